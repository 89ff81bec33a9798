/*
 * banned.h - functions tend code must not call.
 *
 * Each of these either cannot bound its output (strcpy, sprintf, gets),
 * keeps hidden global state (strtok) or hides parse errors (atoi).  Use
 * snprintf, buf_*, strtol/strtoul with end-pointer checks, strtok_r or
 * explicit scanning instead.  Included last by every tend source file
 * through the build's -include flag.
 */
#ifndef TEND_BANNED_H
#define TEND_BANNED_H

/* glibc's headers define inline versions of some of these: include them
 * first so the macros below only catch tend's own calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef atoll
#define atoll(x) BANNED(atoll)
#undef gets
#define gets(x) BANNED(gets)
#undef tmpnam
#define tmpnam(x) BANNED(tmpnam)
#undef mktemp
#define mktemp(x) BANNED(mktemp)

#endif
