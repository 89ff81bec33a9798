/* api_util.c - being written */
