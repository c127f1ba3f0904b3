/* The umbrella header compiles alone under strict C11 and links. */
#include <sslkit/sslkit.h>

int main(void) {
    return sslk_version_number() == SSLK_VERSION_NUMBER ? 0 : 1;
}
