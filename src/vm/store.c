/* Defined domains (NAME.cfg in the config dir) and runtime directories. */
#include "vm/store.h"
#include "util/dirs.h"
#include "util/err.h"
#include "util/file.h"
#include "vm/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Contract in store.h. */
int vk_store_dir(char *buf, size_t len)
{
    const char *o = getenv("VMKIT_CONFIG_DIR"), *x = getenv("XDG_CONFIG_HOME");
    int n;
    if (o && *o)
        n = snprintf(buf, len, "%s", o);
    else if (geteuid() == 0)
        n = snprintf(buf, len, "/etc/vmkit");
    else if (x && *x == '/')
        n = snprintf(buf, len, "%s/vmkit", x);
    else {
        const char *h = getenv("HOME");
        if (!h || !*h)
            return vk_error(-ENOENT, "neither XDG_CONFIG_HOME nor HOME is set");
        n = snprintf(buf, len, "%s/.config/vmkit", h);
    }
    if (n < 0 || (size_t)n >= len)
        return vk_error(-ENAMETOOLONG, "config directory path too long");
    return 0;
}

static int cfg_path(const char *name, char *buf, size_t len)
{
    char dir[4000];
    int err = vk_store_dir(dir, sizeof dir);
    if (err)
        return err;
    if (!vk_name_valid(name))
        return vk_error(-EINVAL, "'%s' is not a valid domain name", name);
    if ((size_t)snprintf(buf, len, "%s/%s.cfg", dir, name) >= len)
        return vk_error(-ENAMETOOLONG, "%s: path too long", dir);
    return 0;
}

/* Write c formatted to path through a temporary file, fsync'd, link()ed
 * when !replace (fails if path appeared meanwhile), rename()d over it
 * when replace, the directory synced after; 0600. */
static int write_cfg(const struct vk_domcfg *c, const char *path, int replace)
{
    char *text = vk_domcfg_format(c);
    if (!text)
        return vk_error(-ENOMEM, "out of memory");
    int err = vk_write_file_atomic(path, text, strlen(text), 0600, replace);
    free(text);
    if (err == -EEXIST)
        err = vk_error(-EEXIST, "%s: domain already defined (%s)", c->name, path);
    return err;
}

/* Contract in store.h. */
int vk_store_define(const struct vk_domcfg *c)
{
    char dir[4000], path[4096];
    int err;
    if (!c->name)
        return vk_error(-EINVAL, "domain has no name");
    if ((err = cfg_path(c->name, path, sizeof path)) || (err = vk_store_dir(dir, sizeof dir)))
        return err;
    /* the store's own name durable too, when this made it */
    if ((err = vk_mkdirs(dir, 0700)) || (err = vk_fsync_parent(dir)))
        return err;
    if (access(path, F_OK) == 0)
        return vk_error(-EEXIST, "%s: domain already defined (%s)", c->name, path);
    if ((err = vk_store_uuid_check(c)))
        return err;
    return write_cfg(c, path, 0);
}

/* Contract in store.h. */
int vk_store_replace(const struct vk_domcfg *c)
{
    char path[4096];
    int err;
    if (!c->name)
        return vk_error(-EINVAL, "domain has no name");
    if ((err = cfg_path(c->name, path, sizeof path)))
        return err;
    if (access(path, F_OK) < 0)
        return vk_error(-ENOENT, "%s: no such domain defined", c->name);
    if ((err = vk_store_uuid_check(c)))
        return err;
    return write_cfg(c, path, 1);
}

/* Contract in store.h. */
int vk_store_path(const char *name, char *buf, size_t len)
{
    return cfg_path(name, buf, len);
}

/* Contract in store.h. */
int vk_store_uuid_check(const struct vk_domcfg *c)
{
    if (!c->uuid)
        return 0;
    char **names;
    int n = vk_store_list(&names), err = 0;
    if (n < 0)
        return n;
    for (int i = 0; i < n && !err; i++) {
        struct vk_domcfg o;
        if (c->name && !strcmp(names[i], c->name))
            continue;
        if (vk_store_load(names[i], &o) < 0) {
            vk_error_clear();      /* a broken config names no uuid */
            continue;
        }
        if (o.uuid && !strcasecmp(o.uuid, c->uuid))
            err = vk_error(-EEXIST, "%s: uuid %s already belongs to the defined domain '%s'", c->name,
                           c->uuid, names[i]);
        vk_domcfg_free(&o);
    }
    vk_store_list_free(names, n);
    if (err)
        return err;
    struct vk_vminfo *v;
    n = vk_rt_list(0, &v);
    if (n < 0) {
        vk_error_clear();          /* no runtime base yet: nothing runs */
        return 0;
    }
    for (int i = 0; i < n && !err; i++)
        if ((!c->name || strcmp(v[i].name, c->name)) && v[i].cfg.uuid &&
            !strcasecmp(v[i].cfg.uuid, c->uuid))
            err = vk_error(-EEXIST, "%s: uuid %s already belongs to the running domain '%s'", c->name,
                           c->uuid, v[i].name);
    vk_vminfo_list_free(v, n);
    return err;
}

/* Contract in store.h. */
int vk_store_undefine(const char *name)
{
    char path[4096];
    int err = cfg_path(name, path, sizeof path);
    if (err)
        return err;
    if (unlink(path) < 0) {
        if (errno == ENOENT)
            return vk_error(-ENOENT, "%s: no such domain defined", name);
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    }
    return 0;
}

/* Contract in store.h. */
int vk_store_load(const char *name, struct vk_domcfg *out)
{
    char path[4096];
    vk_domcfg_init(out);
    int err = cfg_path(name, path, sizeof path);
    if (err)
        return err;
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return vk_error(-ENOENT, "%s: no such domain defined", name);
    return vk_domcfg_load(path, out);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void vk_store_list_free(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Contract in store.h. */
int vk_store_list(char ***names)
{
    char dir[4096];
    *names = NULL;
    int err = vk_store_dir(dir, sizeof dir);
    if (err)
        return err;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : vk_error(-errno, "%s: %s", dir, strerror(errno));
    char **v = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= 4 || strcmp(e->d_name + l - 4, ".cfg"))
            continue;
        char *nm = strndup(e->d_name, l - 4);
        if (!nm || !vk_name_valid(nm)) {
            free(nm);
            if (!nm)
                goto oom;
            continue;
        }
        char **nv = realloc(v, (size_t)(n + 1) * sizeof *nv);
        if (!nv) {
            free(nm);
            goto oom;
        }
        v = nv;
        v[n++] = nm;
    }
    closedir(d);
    if (n)
        qsort(v, (size_t)n, sizeof *v, cmp);
    *names = v;
    return n;
oom:
    closedir(d);
    vk_store_list_free(v, n);
    return vk_error(-ENOMEM, "out of memory");
}

/* Contract in store.h. */
int vk_runtime_base(char *buf, size_t len, int create)
{
    const char *o = getenv("VMKIT_RUNTIME_DIR"), *x = getenv("XDG_RUNTIME_DIR");
    int n;
    if (o && *o)
        n = snprintf(buf, len, "%s", o);
    else if (geteuid() == 0)
        n = snprintf(buf, len, "/run/vmkit");
    else if (x && *x == '/')
        n = snprintf(buf, len, "%s/vmkit", x);
    else
        n = snprintf(buf, len, "/tmp/vmkit-%u", (unsigned)geteuid());
    if (n < 0 || (size_t)n >= len)
        return vk_error(-ENAMETOOLONG, "runtime directory path too long");
    if (!create)
        return 0;
    int err = vk_mkdirs(buf, 0700);
    if (err)
        return err;
    /* /tmp is shared: refuse a base someone else made or left open */
    struct stat st;
    if (lstat(buf, &st) < 0)
        return vk_error(-errno, "%s: %s", buf, strerror(errno));
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        return vk_error(-EPERM, "%s: not a directory owned by us", buf);
    if (st.st_mode & 077)
        return vk_error(-EPERM, "%s: accessible by others (mode %03o); expected 0700",
                        buf, (unsigned)(st.st_mode & 0777));
    return 0;
}

/* Contract in store.h. */
int vk_runtime_dir(const char *name, char *buf, size_t len, int create)
{
    char base[4000];
    if (!vk_name_valid(name))
        return vk_error(-EINVAL, "'%s' is not a valid domain name", name);
    int err = vk_runtime_base(base, sizeof base, create);
    if (err)
        return err;
    if ((size_t)snprintf(buf, len, "%s/%s", base, name) >= len)
        return vk_error(-ENAMETOOLONG, "%s: path too long", base);
    if (create && mkdir(buf, 0700) < 0 && errno != EEXIST)
        return vk_error(-errno, "%s: %s", buf, strerror(errno));
    return 0;
}
