/* The umbrella header compiles alone under strict C11 and links, with and
 * without the experimental tier (SSLK_EXPERIMENTAL_TEST: built with it). */
#include <sslkit/sslkit.h>

int main(void) {
#ifdef SSLK_EXPERIMENTAL_TEST
    sslk_ctx *c;
    int64_t v = 0;
    if (sslk_ctx_create(&c) != SSLK_OK) return 1;
    int bad = sslk_ctx_get_i64(c, SSLK_CTX_MAX_IMAGE_PIXELS, &v) != SSLK_OK || v <= 0;
    sslk_ctx_destroy(c);
    if (bad) return 1;
#elif defined(SSLK_EXPERIMENTAL)
#error "SSLK_EXPERIMENTAL should be undefined in this build"
#endif
    return sslk_version_number() == SSLK_VERSION_NUMBER ? 0 : 1;
}
