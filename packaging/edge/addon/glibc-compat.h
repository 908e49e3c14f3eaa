/* Force-included (-include) into the socketcan addon build: binds pthread_create and
 * pthread_join to their pre-2.34 symbol versions, so an addon compiled against
 * Debian bookworm's glibc 2.36 still loads on glibc 2.28+ (Raspberry Pi OS bullseye,
 * Debian buster/bullseye), the same floor as the official Node binaries. glibc 2.34+
 * keeps these old versions in libc.so.6; older glibc has them in libpthread.so.0,
 * which the build links explicitly (-Wl,--no-as-needed -lpthread). */
#ifndef CANBRIDGE_GLIBC_COMPAT_H
#define CANBRIDGE_GLIBC_COMPAT_H
#if defined(__GLIBC__) || defined(__linux__)
#if defined(__aarch64__)
#define CANBRIDGE_GLIBC_BASE "GLIBC_2.17"
#elif defined(__arm__)
#define CANBRIDGE_GLIBC_BASE "GLIBC_2.4"
#elif defined(__x86_64__)
#define CANBRIDGE_GLIBC_BASE "GLIBC_2.2.5"
#endif
#ifdef CANBRIDGE_GLIBC_BASE
__asm__(".symver pthread_create,pthread_create@" CANBRIDGE_GLIBC_BASE);
__asm__(".symver pthread_join,pthread_join@" CANBRIDGE_GLIBC_BASE);
#endif
#endif
#endif
