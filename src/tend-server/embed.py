#!/usr/bin/env python3
"""embed.py SYMBOL INPUT OUTPUT - a C file defining `const char SYMBOL[]` with INPUT's bytes."""
import sys

sym, src, dst = sys.argv[1:4]
data = open(src, 'rb').read()
with open(dst, 'w') as f:
    f.write('/* generated from %s by embed.py; do not edit */\n' % src.split('/')[-1])
    f.write('#include <stddef.h>\n')
    f.write('const char %s[] = {\n' % sym)
    for i in range(0, len(data), 16):
        f.write('  ' + ', '.join('0x%02x' % b for b in data[i:i + 16]) + ',\n')
    f.write('  0x00\n};\n')
    f.write('const size_t %s_len = %d;\n' % (sym, len(data)))
