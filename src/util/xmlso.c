/* libxml2 loaded on first use: see xmlso.h for why. */
#define VK_XMLSO_IMPL
#include "util/xmlso.h"

#include "util/err.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

struct vk_xml_api vk_xml_api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[256];       /* empty when loaded */

static void *sym(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (!p && !failure[0])
        snprintf(failure, sizeof failure, "libxml2.so.2 has no %s", name);
    return p;
}

static void load(void)
{
    void *h = dlopen("libxml2.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(failure, sizeof failure, "%s", e ? e : "libxml2.so.2: cannot be loaded");
        return;
    }
    /* POSIX's idiom for storing dlsym's void * in a function pointer */
#define VK_XML_SYM(f) *(void **)&vk_xml_api.f = sym(h, #f);
    VK_XML_FUNCS(VK_XML_SYM)
#undef VK_XML_SYM
    vk_xml_api.free = sym(h, "xmlFree");
    if (failure[0])
        dlclose(h);             /* the table is never used */
}

int vk_xml_load(void)
{
    pthread_once(&once, load);
    if (failure[0])
        return vk_error(-ENOSYS, "libxml2 (for XML) cannot be loaded: %s", failure);
    return 0;
}
