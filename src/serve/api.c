/* vmkit serve: the JSON API over the library (api.h). */
#include "serve/api.h"

#include "util/err.h"
#include "vm/control.h"
#include "vm/monitor.h"
#include "vm/runtime.h"
#include "vm/store.h"
#include "vm/vmjson.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void set_json(struct vk_serve_resp *resp, int status, json_t *j)
{
    resp->status = status;
    resp->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!resp->body) {
        resp->status = 500;
        resp->body = strdup("{\"error\":\"out of memory\",\"status\":500}");
    }
    resp->len = resp->body ? strlen(resp->body) : 0;
}

/* Contract in api.h. */
void vk_serve_error(struct vk_serve_resp *resp, int status, const char *msg)
{
    set_json(resp, status, json_pack("{s:s, s:i}", "error", msg, "status", status));
}

static int is_defined(const char *name)
{
    char p[4096];
    int r = vk_store_path(name, p, sizeof p) == 0 && access(p, F_OK) == 0;
    vk_error_clear();
    return r;
}

/* Contract in api.h. */
int vk_serve_vm_list(char **out, size_t *len)
{
    struct vk_vminfo *v;
    int n = vk_rt_list(0, &v);
    if (n < 0)
        return n;
    char **names = NULL;
    int m = vk_store_list(&names);
    if (m < 0) {
        vk_error_clear();
        m = 0;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = vk_vminfo_json(&v[i], 1);
        int defined = 0;
        for (int k = 0; k < m; k++)
            defined |= !strcmp(names[k], v[i].name);
        json_object_set_new(o, "defined", json_boolean(defined));
        json_array_append_new(arr, o);
    }
    for (int k = 0; k < m; k++) {
        int running = 0;
        for (int i = 0; i < n; i++)
            running |= !strcmp(names[k], v[i].name);
        struct vk_domcfg cfg;
        if (running || vk_store_load(names[k], &cfg) < 0) {
            vk_error_clear();
            continue;
        }
        json_t *o = vk_defined_json(names[k], &cfg);
        json_object_set_new(o, "defined", json_true());
        json_array_append_new(arr, o);
        vk_domcfg_free(&cfg);
    }
    vk_store_list_free(names, m);
    vk_vminfo_list_free(v, n);
    *out = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!*out)
        return vk_error(-ENOMEM, "out of memory");
    *len = strlen(*out);
    return 0;
}

/* GET /api/vms/NAME: the list entry plus "config", the xl.cfg text (the
 * effective one of a running VM, else the stored one). */
static void get_vm(const char *name, struct vk_serve_resp *resp)
{
    struct vk_vminfo info;
    json_t *o = NULL;
    char *text = NULL;
    int err = vk_rt_info(name, 0, &info);
    if (err == 0) {
        o = vk_vminfo_json(&info, 1);
        text = vk_domcfg_format(&info.cfg);
        vk_vminfo_free(&info);
    } else if (err == -ENOENT) {
        vk_error_clear();
        struct vk_domcfg cfg;
        if ((err = vk_store_load(name, &cfg)) == 0) {
            o = vk_defined_json(name, &cfg);
            text = vk_domcfg_format(&cfg);
            vk_domcfg_free(&cfg);
        }
    }
    if (err == -ENOENT) {
        vk_error_clear();
        vk_serve_error(resp, 404, "no such VM (neither running nor defined)");
        return;
    }
    if (err) {
        vk_serve_error(resp, 500, vk_errmsg());
        vk_error_clear();
        return;
    }
    json_object_set_new(o, "defined", json_boolean(is_defined(name)));
    json_object_set_new(o, "config", text ? json_string(text) : json_null());
    free(text);
    set_json(resp, 200, o);
}

/* Whether action a applies to a VM in state st (-1: not running). */
static int applies(enum vk_serve_action a, int st)
{
    switch (a) {
    case VK_SA_START:    return st < 0;
    case VK_SA_DESTROY:  return st >= 0;
    case VK_SA_SHUTDOWN:
    case VK_SA_PAUSE:    return st == VK_ST_RUNNING || st == VK_ST_BLOCKED;
    case VK_SA_UNPAUSE:  return st == VK_ST_PAUSED;
    }
    return 0;
}

static int run_action(const char *name, enum vk_serve_action a, const struct vk_act_opts *o)
{
    switch (a) {
    case VK_SA_START: {
        struct vk_domcfg cfg;
        int err = vk_store_load(name, &cfg);
        if (err)
            return err;
        struct vk_start_opts so = { .paused = o->paused };
        err = vk_vm_start(&cfg, &so);
        vk_domcfg_free(&cfg);
        return err;
    }
    case VK_SA_SHUTDOWN: return vk_vm_shutdown(name, 0, 0);
    case VK_SA_DESTROY:  return vk_vm_destroy(name);
    case VK_SA_PAUSE:    return vk_vm_pause(name);
    case VK_SA_UNPAUSE:  return vk_vm_unpause(name);
    }
    return -EINVAL;
}

/* The state now: a vk_vm_state, -1 not running but defined, -2 neither. */
static int state_of(const char *name)
{
    struct vk_vminfo info;
    int err = vk_rt_info(name, 0, &info);
    if (err == 0) {
        int st = (int)info.state;
        vk_vminfo_free(&info);
        return st;
    }
    vk_error_clear();
    return is_defined(name) ? -1 : -2;
}

static void do_action(const char *name, enum vk_serve_action a, const struct vk_act_opts *o,
                      struct vk_serve_resp *resp)
{
    int st = state_of(name);
    char msg[256];
    if (st == -2) {
        vk_serve_error(resp, 404, "no such VM (neither running nor defined)");
        return;
    }
    if (!applies(a, st)) {
        snprintf(msg, sizeof msg, "%s: cannot %s a VM that is %s", name, vk_serve_action_name(a),
                 st < 0 ? "shut off" : vk_vm_state_name((enum vk_vm_state)st));
        vk_serve_error(resp, 409, msg);
        return;
    }
    int err = run_action(name, a, o);
    if (err) {
        /* the VM changed under us (another client, the CLI) */
        int status = err == -ENOENT ? 404 : err == -EEXIST || err == -EBUSY ? 409 : 500;
        vk_serve_error(resp, status, vk_errmsg());
        vk_error_clear();
        return;
    }
    st = state_of(name);
    set_json(resp, 200, json_pack("{s:s, s:s, s:s}", "name", name, "action", vk_serve_action_name(a),
                                  "state", st >= 0 ? vk_vm_state_name((enum vk_vm_state)st)
                                                   : "shut off"));
}

/* Contract in api.h. */
void vk_serve_api(const struct vk_route *r, const struct vk_act_opts *o,
                  struct vk_serve_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    switch (r->kind) {
    case VK_ROUTE_LIST: {
        char *text;
        size_t len;
        int err = vk_serve_vm_list(&text, &len);
        if (err) {
            vk_serve_error(resp, 500, vk_errmsg());
            vk_error_clear();
            return;
        }
        resp->status = 200;
        resp->body = text;
        resp->len = len;
        return;
    }
    case VK_ROUTE_VM:
        get_vm(r->name, resp);
        return;
    case VK_ROUTE_ACTION:
        do_action(r->name, r->action, o, resp);
        return;
    default:
        vk_serve_error(resp, 404, "no such resource");
    }
}
