/* app/sanitizer.c — what LeakSanitizer must not call a leak in an ASan build
 * of lecture-relay. libh2o 2.2 keeps a private per-thread cache of memory
 * pool chunks (h2o_mem_alloc_recycle) that no API releases when the HTTP
 * thread ends; it is reclaimed at exit, not lost while running. Unused in
 * builds without the sanitizer. */
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void)
{
    return "leak:h2o_mem_alloc_recycle\n"
           "leak:libh2o-evloop.so\n";
}
