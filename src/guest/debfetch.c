/* Debian packages for guest build: fetched with `apt-get download` into a
 * cache (~/.cache/vmkit/debs), read with dpkg-deb.  apt and dpkg do the
 * work as child processes; failures name the package and the tool. */
#include "guest/guest.h"

#include "util/err.h"
#include "util/str.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_p(const char *path)
{
    char tmp[4096];
    int r = vk_pathf(tmp, sizeof tmp, "%s", path);
    if (r < 0)
        return r;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return vk_error(-errno, "%s: %s", tmp, strerror(errno));
            *p = '/';
        }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return vk_error(-errno, "%s: %s", tmp, strerror(errno));
    return 0;
}

int vk_deb_cachedir(const char *base, char **dir)
{
    char buf[4096];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int r;
    if (base)
        r = vk_pathf(buf, sizeof buf, "%s/debs", base);
    else if (xdg && *xdg)
        r = vk_pathf(buf, sizeof buf, "%s/vmkit/debs", xdg);
    else if (home && *home)
        r = vk_pathf(buf, sizeof buf, "%s/.cache/vmkit/debs", home);
    else
        return vk_error(-ENOENT, "no cache directory: neither XDG_CACHE_HOME nor HOME is set");
    if (r == 0)
        r = mkdir_p(buf);
    if (r < 0)
        return r;
    if (!(*dir = strdup(buf)))
        return vk_error(-ENOMEM, "out of memory");
    return 0;
}

/* The cached .deb of pkg in dir ("pkg_VERSION_ARCH.deb"), or NULL. */
static char *cached(const char *dir, const char *pkg)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t pl = strlen(pkg);
    char *best = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > pl + 5 && !strncmp(de->d_name, pkg, pl) && de->d_name[pl] == '_' &&
            !strcmp(de->d_name + l - 4, ".deb")) {
            char *p = malloc(strlen(dir) + l + 2);
            if (p)
                sprintf(p, "%s/%s", dir, de->d_name);
            /* several versions: the last in name order (newest, usually) */
            if (p && (!best || strcmp(p, best) > 0)) {
                free(best);
                best = p;
            } else {
                free(p);
            }
        }
    }
    closedir(d);
    return best;
}

int vk_deb_fetch(const char *cachedir, const char *pkg, char **deb)
{
    if ((*deb = cached(cachedir, pkg)))
        return 0;
    char tmp[4096];
    int pr = vk_pathf(tmp, sizeof tmp, "%s/.fetch-XXXXXX", cachedir);
    if (pr < 0)
        return pr;
    if (!mkdtemp(tmp))
        return vk_error(-errno, "%s: %s", tmp, strerror(errno));
    const char *argv[] = { "apt-get", "download", "-q", pkg, NULL };
    char out[16384];
    int r = vk_run(argv, tmp, out, sizeof out);
    /* A fresh machine may have no package lists yet: as root, fetch them
     * once and retry (what the user would be told to do anyway). */
    if (r < 0 && geteuid() == 0 &&
        (strstr(out, "Unable to locate package") || strstr(out, "no installation candidate") ||
         strstr(out, "Failed to fetch"))) {
        const char *upd[] = { "apt-get", "update", "-q", NULL };
        if (vk_run(upd, NULL, NULL, 0) == 0)
            r = vk_run(argv, tmp, NULL, 0);
    }
    if (r < 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", vk_errmsg());
        vk_error(r, "%s: %s (is apt's package list current? try: sudo apt-get update)", pkg, msg);
    }
    char *got = r == 0 ? cached(tmp, pkg) : NULL;
    if (r == 0 && !got)
        r = vk_error(-ENOENT, "%s: apt-get download left no .deb", pkg);
    if (got) {
        const char *base = strrchr(got, '/') + 1;
        char dst[4096];
        if (vk_pathf(dst, sizeof dst, "%s/%s", cachedir, base) < 0)
            r = -ENAMETOOLONG;
        else if (rename(got, dst) < 0)
            r = vk_error(-errno, "%s: %s", dst, strerror(errno));
        else if (!(*deb = strdup(dst)))
            r = vk_error(-ENOMEM, "out of memory");
        free(got);
    }
    /* the temp dir holds nothing else we want */
    DIR *d = opendir(tmp);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char p[4096 + 256];
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            if (vk_pathf(p, sizeof p, "%s/%s", tmp, de->d_name) == 0)
                unlink(p);
        }
    }
    if (d)
        closedir(d);
    rmdir(tmp);
    return r;
}

int vk_deb_field(const char *deb, const char *field, char **value)
{
    char out[8192];
    const char *argv[] = { "dpkg-deb", "-f", deb, field, NULL };
    int r = vk_run(argv, NULL, out, sizeof out);
    if (r < 0)
        return vk_error_prefix(r, "%s: ", deb);
    size_t l = strlen(out);
    while (l && (out[l - 1] == '\n' || out[l - 1] == ' '))
        out[--l] = '\0';
    if (!(*value = strdup(out)))
        return vk_error(-ENOMEM, "out of memory");
    return 0;
}

int vk_deb_extract(const char *deb, const char *dir)
{
    const char *argv[] = { "dpkg-deb", "-x", deb, dir, NULL };
    int r = vk_run(argv, NULL, NULL, 0);
    return r < 0 ? vk_error_prefix(r, "%s: ", deb) : 0;
}
