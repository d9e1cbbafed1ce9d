/* The public API (include/vmkit/vmkit.h): virtual machines;
 * the only symbols libvmkit.so exports (mk/libvmkit.map).  Everything else
 * in the library is compiled with hidden visibility. */
#include "vmkit/vmkit.h"

#include "util/err.h"
#include "vm/control.h"
#include "vm/monitor.h"
#include "vm/runtime.h"
#include "vm/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append one entry to *v (n entries so far). */
static struct vmkit_vm *vm_push(struct vmkit_vm **v, int n)
{
    struct vmkit_vm *nv = realloc(*v, (size_t)(n + 1) * sizeof *nv);
    if (!nv)
        return NULL;
    *v = nv;
    memset(&nv[n], 0, sizeof nv[n]);
    return &nv[n];
}

/* The defined VMs that are not among the n running ones in rt, appended
 * to *v after *n entries. */
static int vm_list_defined(const struct vk_vminfo *rt, int nrt, struct vmkit_vm **v, int *n)
{
    char **names;
    int m = vk_store_list(&names), r = 0;
    if (m < 0)
        return m;
    for (int i = 0; i < m && r >= 0; i++) {
        int running = 0;
        for (int k = 0; k < nrt; k++)
            running |= !strcmp(rt[k].name, names[i]);
        struct vk_domcfg cfg;
        if (running || vk_store_load(names[i], &cfg) < 0)
            continue;   /* an unreadable stored config is not a VM to list */
        struct vmkit_vm *o = vm_push(v, *n);
        if (!o) {
            r = vk_error(-ENOMEM, "out of memory");
        } else {
            snprintf(o->name, sizeof o->name, "%s", names[i]);
            snprintf(o->state, sizeof o->state, "off");
            o->memory_mb = cfg.memory;
            o->vcpus = cfg.vcpus;
            (*n)++;
        }
        vk_domcfg_free(&cfg);
    }
    vk_store_list_free(names, m);
    vk_error_clear();
    return r;
}

int vmkit_vm_list(struct vmkit_vm **out)
{
    struct vk_vminfo *rt;
    *out = NULL;
    int nrt = vk_rt_list(0, &rt), n = 0, r = 0;
    if (nrt < 0)
        return nrt;
    for (int i = 0; i < nrt && r >= 0; i++) {
        struct vmkit_vm *o = vm_push(out, n);
        if (!o) {
            r = vk_error(-ENOMEM, "out of memory");
            break;
        }
        snprintf(o->name, sizeof o->name, "%s", rt[i].name);
        snprintf(o->state, sizeof o->state, "%s", vk_vm_state_name(rt[i].state));
        o->id = rt[i].id;
        o->memory_mb = rt[i].cfg.memory;
        o->vcpus = rt[i].cfg.vcpus;
        o->pid = (int)rt[i].pid;
        n++;
    }
    if (r >= 0)
        r = vm_list_defined(rt, nrt, out, &n);
    vk_vminfo_list_free(rt, nrt);
    if (r < 0) {
        free(*out);
        *out = NULL;
        return r;
    }
    return n;
}

void vmkit_vm_list_free(struct vmkit_vm *v)
{
    free(v);
}

/* Start the config loaded by r (0) into cfg, then free it. */
static int vm_start(struct vk_domcfg *cfg, int r)
{
    if (r >= 0) {
        struct vk_start_opts o = { 0 };
        r = vk_vm_start(cfg, &o);
    }
    vk_domcfg_free(cfg);
    return r;
}

int vmkit_vm_create(const char *cfg_path)
{
    struct vk_domcfg cfg;
    vk_domcfg_init(&cfg);
    return vm_start(&cfg, vk_domcfg_load(cfg_path, &cfg));
}

int vmkit_vm_start(const char *name)
{
    struct vk_domcfg cfg;
    vk_domcfg_init(&cfg);
    return vm_start(&cfg, vk_store_load(name, &cfg));
}

int vmkit_vm_shutdown(const char *name, int timeout_s)
{
    return vk_vm_shutdown(name, 1, timeout_s);
}

int vmkit_vm_destroy(const char *name)
{
    return vk_vm_destroy(name);
}
