/* config.c - being written */
