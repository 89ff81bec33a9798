/* dispatch.c - being written */
