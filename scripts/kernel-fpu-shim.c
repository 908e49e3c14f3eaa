/*
 * kernel-fpu-shim.c - LD_PRELOAD shim that lets Debian bookworm's
 * User-Mode Linux (6.1) run on hosts with AVX-512 or AMX.
 *
 * Used by scripts/kernel-harness.sh; built on demand with the system C
 * compiler and preloaded into /usr/bin/linux.uml only (never into the
 * guest: guest processes are started by the UML kernel, not by the host's
 * dynamic linker).
 *
 * Why: UML keeps each guest thread's FPU state in a fixed-size buffer whose
 * size was fixed when the kernel was built (2696 bytes in bookworm's
 * linux.uml: x87, SSE, AVX, AVX-512 and PKRU) and moves it in and out of
 * the host processes that run guest code with
 *     ptrace(PTRACE_GETREGSET / PTRACE_SETREGSET, pid, NT_X86_XSTATE, &iov).
 * The host kernel truncates a GETREGSET that is too short, but rejects any
 * SETREGSET whose length is not its full XSAVE size with EFAULT.  On hosts
 * with a bigger XSAVE area (AMX: 11008 bytes) every guest process is
 * therefore killed at its first instruction ("userspace - ptrace set fp regs
 * failed, errno = 14", then "Kernel panic - not syncing: Attempted to kill
 * init").  (Hosts with a smaller area, e.g. AVX2 only, are fine: the
 * kernel trims UML's longer requests to its own size.)
 *
 * What: for NT_X86_XSTATE requests shorter than the host's XSAVE size, keep
 * a full-size shadow buffer per UML buffer address (UML passes the address
 * of the guest thread's own save area, which is stable for the thread's
 * life).  GETREGSET fills the shadow with the full state and copies the
 * prefix UML asked for; SETREGSET writes UML's (possibly modified) prefix
 * over the shadow and hands the kernel a full-size buffer.  So everything
 * UML knows about is exactly what UML wants, and the rest (AMX tile state,
 * which only programs that request it with arch_prctl ever use) is saved
 * and restored per guest thread as well.  When the sizes already agree,
 * every call goes straight through.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

struct shadow {
	const void *key;      /* UML's buffer address */
	unsigned char *full;  /* full-size XSAVE image */
	int valid;            /* full holds a state read from the host */
	struct shadow *next;
};

#define NBUCKETS 1024
static struct shadow *table[NBUCKETS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static size_t full_size; /* host XSAVE size; 0 = not known yet */

static long raw_ptrace(long req, pid_t pid, void *addr, void *data)
{
	return syscall(SYS_ptrace, req, pid, addr, data);
}

/* The host's XSAVE size: a GETREGSET with a large buffer is trimmed to it. */
static size_t host_xsave_size(pid_t pid)
{
	if (full_size == 0) {
		static unsigned char probe[1 << 16] __attribute__((aligned(64)));
		struct iovec iov = { probe, sizeof(probe) };

		if (raw_ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov) == 0)
			full_size = iov.iov_len;
	}
	return full_size;
}

static struct shadow *shadow_for(const void *key)
{
	size_t h = ((uintptr_t)key >> 4) % NBUCKETS;
	struct shadow *s;

	for (s = table[h]; s; s = s->next)
		if (s->key == key)
			return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (posix_memalign((void **)&s->full, 64, full_size)) {
		free(s);
		return NULL;
	}
	memset(s->full, 0, full_size);
	s->key = key;
	s->next = table[h];
	table[h] = s;
	return s;
}

static long xstate_call(long req, pid_t pid, struct iovec *iov)
{
	struct shadow *s;
	struct iovec full;
	long ret;

	s = shadow_for(iov->iov_base);
	if (!s) {
		errno = ENOMEM;
		return -1;
	}
	full.iov_base = s->full;
	full.iov_len = full_size;

	if (req == PTRACE_GETREGSET) {
		ret = raw_ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &full);
		if (ret == 0) {
			s->valid = 1;
			memcpy(iov->iov_base, s->full, iov->iov_len);
		}
		return ret;
	}

	/*
	 * SETREGSET.  A buffer never read through GETREGSET (a new thread:
	 * UML copied the parent's save area) takes the state the host process
	 * has now as the base for the parts UML does not know about.
	 */
	if (!s->valid) {
		ret = raw_ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &full);
		if (ret != 0)
			return ret;
		full.iov_len = full_size;
		s->valid = 1;
	}
	memcpy(s->full, iov->iov_base, iov->iov_len);
	return raw_ptrace(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &full);
}

long ptrace(enum __ptrace_request request, ...)
{
	static ptrace_fn real;
	va_list ap;
	pid_t pid;
	void *addr, *data;

	va_start(ap, request);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);

	if ((request == PTRACE_GETREGSET || request == PTRACE_SETREGSET) &&
	    (uintptr_t)addr == NT_X86_XSTATE && data != NULL) {
		struct iovec *iov = data;
		long ret = 0;
		int handled = 0;

		pthread_mutex_lock(&lock);
		if (host_xsave_size(pid) > iov->iov_len) {
			ret = xstate_call(request, pid, iov);
			handled = 1;
		}
		pthread_mutex_unlock(&lock);
		if (handled)
			return ret;
	}

	if (!real)
		real = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
	return real(request, pid, addr, data);
}
