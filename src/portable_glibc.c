/* portable_glibc: the self-contained build's references to glibc bound to versions glibc 2.28 has. */
/*
 * Compiled and linked by scripts/portable only, with -Wl,--wrap for each
 * function below: the static libraries were compiled against this
 * machine's glibc, whose headers bind stat, dlopen, the pthread_ calls and
 * __libc_start_main to versions of 2.33 to 2.36. Each __wrap_ calls the
 * same function under its old version, which newer glibc still exports
 * (the dl and pthread ones moved into libc.so.6 in 2.34; the binary also
 * names libdl.so.2 and libpthread.so.0, where 2.28 has them).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/random.h>
#include <sys/stat.h>

int __wrap___libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
                             void (*fini)(void), void (*rtld_fini)(void), void *stack_end);

#define OLD(ret, name, params)                                        \
    extern ret old_##name params;                                     \
    __asm__(".symver old_" #name "," #name "@GLIBC_2.2.5")

OLD(int, __libc_start_main, (int (*)(int, char **, char **), int, char **, void (*)(int, char **, char **),
                             void (*)(void), void (*)(void), void *));
OLD(void *, dlopen, (const char *, int));
OLD(void *, dlsym, (void *, const char *));
OLD(int, dlclose, (void *));
OLD(char *, dlerror, (void));
OLD(int, dladdr, (const void *, Dl_info *));
OLD(int, pthread_once, (pthread_once_t *, void (*)(void)));
OLD(int, pthread_key_create, (pthread_key_t *, void (*)(void *)));
OLD(int, pthread_key_delete, (pthread_key_t));
OLD(void *, pthread_getspecific, (pthread_key_t));
OLD(int, pthread_setspecific, (pthread_key_t, const void *));
OLD(int, pthread_rwlock_init, (pthread_rwlock_t *, const pthread_rwlockattr_t *));
OLD(int, pthread_rwlock_destroy, (pthread_rwlock_t *));
OLD(int, pthread_rwlock_rdlock, (pthread_rwlock_t *));
OLD(int, pthread_rwlock_wrlock, (pthread_rwlock_t *));
OLD(int, pthread_rwlock_unlock, (pthread_rwlock_t *));
OLD(int, __xstat, (int, const char *, struct stat *));
OLD(int, __fxstat, (int, int, struct stat *));
OLD(int, __lxstat, (int, const char *, struct stat *));

/* Since 2.34 crt1.o passes no init function and libc runs the program's
 * constructors itself; 2.33 and older run only the init function passed.
 * Passed one, every glibc runs it instead: the constructors run once. */
extern void (*__preinit_array_start[])(int, char **, char **) __attribute__((visibility("hidden")));
extern void (*__preinit_array_end[])(int, char **, char **) __attribute__((visibility("hidden")));
extern void (*__init_array_start[])(int, char **, char **) __attribute__((visibility("hidden")));
extern void (*__init_array_end[])(int, char **, char **) __attribute__((visibility("hidden")));
extern void _init(void);

static void run_constructors(int argc, char **argv, char **envp)
{
    for (size_t i = 0; i < (size_t)(__preinit_array_end - __preinit_array_start); i++)
        __preinit_array_start[i](argc, argv, envp);
    _init();
    for (size_t i = 0; i < (size_t)(__init_array_end - __init_array_start); i++)
        __init_array_start[i](argc, argv, envp);
}

int __wrap___libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
                             void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    (void)init;
    (void)fini;         /* the dynamic loader runs the destructors (rtld_fini) */
    return old___libc_start_main(main, argc, argv, run_constructors, NULL, rtld_fini, stack_end);
}

void *__wrap_dlopen(const char *f, int m) { return old_dlopen(f, m); }
void *__wrap_dlsym(void *h, const char *s) { return old_dlsym(h, s); }
int __wrap_dlclose(void *h) { return old_dlclose(h); }
char *__wrap_dlerror(void) { return old_dlerror(); }
int __wrap_dladdr(const void *a, Dl_info *i) { return old_dladdr(a, i); }
int __wrap_pthread_once(pthread_once_t *o, void (*f)(void)) { return old_pthread_once(o, f); }
int __wrap_pthread_key_create(pthread_key_t *k, void (*d)(void *)) { return old_pthread_key_create(k, d); }
int __wrap_pthread_key_delete(pthread_key_t k) { return old_pthread_key_delete(k); }
void *__wrap_pthread_getspecific(pthread_key_t k) { return old_pthread_getspecific(k); }
int __wrap_pthread_setspecific(pthread_key_t k, const void *v) { return old_pthread_setspecific(k, v); }
int __wrap_pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *a)
{
    return old_pthread_rwlock_init(l, a);
}
int __wrap_pthread_rwlock_destroy(pthread_rwlock_t *l) { return old_pthread_rwlock_destroy(l); }
int __wrap_pthread_rwlock_rdlock(pthread_rwlock_t *l) { return old_pthread_rwlock_rdlock(l); }
int __wrap_pthread_rwlock_wrlock(pthread_rwlock_t *l) { return old_pthread_rwlock_wrlock(l); }
int __wrap_pthread_rwlock_unlock(pthread_rwlock_t *l) { return old_pthread_rwlock_unlock(l); }

/* stat and friends were functions of libc_nonshared.a calling __xstat
 * (version 1 of struct stat on x86-64) until 2.33 */
int __wrap_stat(const char *p, struct stat *b) { return old___xstat(1, p, b); }
int __wrap_fstat(int fd, struct stat *b) { return old___fxstat(1, fd, b); }
int __wrap_lstat(const char *p, struct stat *b) { return old___lxstat(1, p, b); }

/* arc4random_buf is 2.36's; getrandom (2.25) is what it reads */
void __wrap_arc4random_buf(void *p, size_t n)
{
    unsigned char *o = p;
    while (n > 0) {
        ssize_t r = getrandom(o, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            __builtin_trap();   /* as glibc's: no randomness is fatal */
        o += r;
        n -= (size_t)r;
    }
}
