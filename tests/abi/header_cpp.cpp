// The umbrella header compiles from C++ and links without name mangling.
#include <sslkit/sslkit.h>

int main() {
    sslk_ctx *c = nullptr;
    if (sslk_ctx_create(&c) != SSLK_OK) return 1;
    sslk_ctx_destroy(c);
    return sslk_version_number() == SSLK_VERSION_NUMBER ? 0 : 1;
}
