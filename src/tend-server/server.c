/* server.c - being written */
