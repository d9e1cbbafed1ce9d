/* By-node access (the vk_fs_*_node wrappers of fs.h) and the tree walk of
 * walk.h: an explicit stack of directories, each read once, and a set of
 * the directories seen so far to refuse loops. */
#include "fs/walk.h"

#include "fs/path.h"
#include "util/err.h"
#include "util/vec.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int no_node(struct vk_fs *fs, const char *path)
{
    return vk_error(-ENOTSUP, "%s:%s: %s cannot be walked by node", fs->bd->name, path,
                    fs->type ? fs->type->name : "this filesystem");
}

int vk_fs_lookup_node(struct vk_fs *fs, const char *path, bool follow, struct vk_node *out)
{
    memset(out, 0, sizeof *out);
    if (!fs->ops->lookup_node)
        return no_node(fs, path);
    return fs->ops->lookup_node(fs, path, follow, out);
}

int vk_fs_readdir_node(struct vk_fs *fs, const struct vk_node *dir, const char *path,
                       vk_dirent_cb cb, void *ctx)
{
    if (!fs->ops->readdir_node)
        return no_node(fs, path);
    if (dir->type && !S_ISDIR(dir->type))
        return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, path);
    return fs->ops->readdir_node(fs, dir, path, cb, ctx);
}

int vk_fs_stat_node(struct vk_fs *fs, const struct vk_node *n, const char *path, struct vk_stat *st)
{
    memset(st, 0, sizeof *st);
    if (!fs->ops->stat_node)
        return no_node(fs, path);
    return fs->ops->stat_node(fs, n, path, st);
}

int vk_fs_readlink_node(struct vk_fs *fs, const struct vk_node *n, const char *path,
                        char *buf, size_t len)
{
    if (!fs->ops->readlink_node || (n->type && !S_ISLNK(n->type)))
        return vk_error(-EINVAL, "%s:%s: not a symbolic link", fs->bd->name, path);
    return fs->ops->readlink_node(fs, n, path, buf, len);
}

int vk_fs_open_node(struct vk_fs *fs, const struct vk_node *n, const char *path,
                    struct vk_file **out)
{
    if (!fs->ops->open_node)
        return no_node(fs, path);
    return fs->ops->open_node(fs, n, path, out);
}

/* ---- the walk ---- */

/* A directory met so far: its id and where it was (parent index and name,
 * so its path can be told without keeping every path). */
struct seen {
    uint64_t id;
    size_t parent;          /* SIZE_MAX for the starting point */
    char *name;             /* the starting point: its whole path */
};

struct frame {
    struct vk_walk_ent self;    /* self.name is owned by the parent frame */
    struct vk_walk_ent *kids;
    size_t n, i;
    size_t plen;                /* length of this directory's path */
    size_t seen;                /* index in walk.seen */
};

struct walk {
    struct vk_fs *fs;
    int flags;
    vk_walk_cb cb;
    void *ctx;
    char *path;
    size_t plen, pcap;
    struct frame *fr;
    size_t nfr, capfr;
    struct seen *seen;
    size_t nseen, capseen;
    size_t *hash;               /* open addressing: index + 1 into seen, 0 empty */
    size_t hcap;
};

static void free_kids(struct vk_walk_ent *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(k[i].name);
    free(k);
}

/* Set w->path to the path of directory frame f plus name ("" for f's). */
static int set_path(struct walk *w, size_t plen, const char *name)
{
    size_t nl = strlen(name);
    bool slash = nl && plen && !(plen == 1 && w->path[0] == '/');
    char *p = vk_grow(w->path, &w->pcap, plen + slash + nl + 1, 1, 256);
    if (!p)
        return vk_error(-ENOMEM, "out of memory");
    w->path = p;
    if (slash)
        p[plen] = '/';
    memcpy(p + plen + slash, name, nl + 1);
    w->plen = plen + slash + nl;
    return 0;
}

static size_t hslot(uint64_t id, size_t cap)
{
    return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

/* Index of the directory with this id, or SIZE_MAX. */
static size_t seen_find(const struct walk *w, uint64_t id)
{
    if (!w->hcap)
        return SIZE_MAX;
    for (size_t h = hslot(id, w->hcap);; h = (h + 1) & (w->hcap - 1)) {
        if (!w->hash[h])
            return SIZE_MAX;
        if (w->seen[w->hash[h] - 1].id == id)
            return w->hash[h] - 1;
    }
}

static int seen_add(struct walk *w, uint64_t id, size_t parent, const char *name)
{
    struct seen *s = vk_grow(w->seen, &w->capseen, w->nseen + 1, sizeof *s, 64);
    if (!s)
        return vk_error(-ENOMEM, "out of memory");
    w->seen = s;
    if ((w->nseen + 1) * 2 > w->hcap) {
        size_t cap = w->hcap ? w->hcap * 2 : 256;
        size_t *h = calloc(cap, sizeof *h);
        if (!h)
            return vk_error(-ENOMEM, "out of memory");
        for (size_t i = 0; i < w->nseen; i++) {
            size_t k = hslot(w->seen[i].id, cap);
            while (h[k])
                k = (k + 1) & (cap - 1);
            h[k] = i + 1;
        }
        free(w->hash);
        w->hash = h;
        w->hcap = cap;
    }
    if (!(s[w->nseen].name = strdup(name)))
        return vk_error(-ENOMEM, "out of memory");
    s[w->nseen].id = id;
    s[w->nseen].parent = parent;
    size_t k = hslot(id, w->hcap);
    while (w->hash[k])
        k = (k + 1) & (w->hcap - 1);
    w->hash[k] = ++w->nseen;
    return 0;
}

/* The path where directory i was met (malloc'd), or NULL. */
static char *seen_path(const struct walk *w, size_t i)
{
    size_t len = 0;
    for (size_t j = i; j != SIZE_MAX; j = w->seen[j].parent)
        len += strlen(w->seen[j].name) + 1;
    char *p = malloc(len + 1);
    if (!p)
        return NULL;
    size_t o = len;
    p[o] = 0;
    for (size_t j = i; j != SIZE_MAX; j = w->seen[j].parent) {
        size_t l = strlen(w->seen[j].name);
        o -= l;
        memcpy(p + o, w->seen[j].name, l);
        if (w->seen[j].parent != SIZE_MAX)
            p[--o] = '/';
    }
    /* The starting point's own path came first; "//x" when it is "/". */
    if (o)
        memmove(p, p + o, len - o + 1);
    if (p[0] == '/' && p[1] == '/')
        memmove(p, p + 1, strlen(p));
    return p;
}

/* Refuse directory e (its path in w->path) if it was met before. */
static int check_loop(struct walk *w, const struct vk_walk_ent *e)
{
    size_t j = seen_find(w, e->node.id);
    if (j == SIZE_MAX)
        return 0;
    bool ancestor = false;
    for (size_t a = w->fr[w->nfr - 1].seen; a != SIZE_MAX; a = w->seen[a].parent)
        if (a == j)
            ancestor = true;
    char *other = seen_path(w, j);
    const char *what = w->fs->ops->node_id_name ? w->fs->ops->node_id_name : "directory";
    char b1[VK_ABBREV_LEN], b2[VK_ABBREV_LEN];
    int r = vk_error(-ELOOP, "%s:%s: %s (%s %llu is also %s)", w->fs->bd->name,
                     vk_path_abbrev(w->path, b1),
                     ancestor ? "directory loop" : "second link to a directory", what,
                     (unsigned long long)e->node.id, other ? vk_path_abbrev(other, b2) : "?");
    free(other);
    return r;
}

struct collect {
    struct vk_walk_ent *v;
    size_t n, cap;
};

static int collect_cb(void *ctx, const struct vk_dirent *de)
{
    struct collect *c = ctx;
    struct vk_walk_ent *v = vk_grow(c->v, &c->cap, c->n + 1, sizeof *v, 16);
    if (!v)
        return vk_error(-ENOMEM, "out of memory");
    c->v = v;
    memset(&v[c->n], 0, sizeof v[c->n]);
    if (!(v[c->n].name = strdup(de->name)))
        return vk_error(-ENOMEM, "out of memory");
    v[c->n].node = *de->node;
    v[c->n].st.mode = de->node->type;
    c->n++;
    return 0;
}

static int cmp_ent(const void *a, const void *b)
{
    return strcmp(((const struct vk_walk_ent *)a)->name, ((const struct vk_walk_ent *)b)->name);
}

/* Tell the callback that e (path in w->path, at depth) failed with err
 * (message recorded): 0 to skip it, <0 to stop. */
static int report(struct walk *w, const struct vk_walk_ent *e, size_t depth, int err)
{
    struct vk_walk_visit v = { VK_WALK_ERROR, w->path, depth, e, NULL, 0, err };
    int r = w->cb(w->ctx, &v);
    return r < 0 ? r : 0;
}

/* The entries c of the directory at w->path (length plen), sorted, each
 * lstat'ed if asked (or if its type is unknown).  Entries that fail go to
 * the callback as errors and are left out.  w->path is the directory's
 * again on return. */
static int prep_kids(struct walk *w, size_t plen, struct collect *c)
{
    int r = 0;
    size_t keep = 0, i = 0;
    for (; r >= 0 && i < c->n; i++) {
        struct vk_walk_ent *k = &c->v[i];
        if ((r = set_path(w, plen, k->name)) < 0)
            break;
        int kr = 0;
        char ab[VK_ABBREV_LEN];
        if (!vk_path_name_safe(k->name))
            kr = vk_error(-EUCLEAN, "%s:%s: invalid name in the directory", w->fs->bd->name,
                          vk_path_abbrev(w->path, ab));
        else if ((w->flags & VK_WALK_STAT) || !k->node.type) {
            /* The inode's type wins over the directory entry's. */
            if ((kr = vk_fs_stat_node(w->fs, &k->node, vk_path_abbrev(w->path, ab), &k->st)) >= 0)
                k->node.type = k->st.mode & S_IFMT;
        }
        if (kr < 0) {
            r = report(w, k, w->nfr + 1, kr);
            free(k->name);
            continue;
        }
        c->v[keep++] = *k;
    }
    int p = set_path(w, plen, "");
    if (r >= 0)
        r = p;
    if (r < 0) {
        for (; i < c->n; i++)
            free(c->v[i].name);
        free_kids(c->v, keep);
        memset(c, 0, sizeof *c);
        return r;
    }
    c->n = keep;
    if (c->n > 1)
        qsort(c->v, c->n, sizeof *c->v, cmp_ent);
    return 0;
}

/* Enter directory e (path in w->path): read it, push a frame, tell the
 * callback.  A directory that cannot be read goes to the callback as an
 * error, except the starting point (parent SIZE_MAX), whose error is
 * returned.  1 when the callback did not want its contents. */
static int enter(struct walk *w, const struct vk_walk_ent *e, size_t parent)
{
    size_t plen = w->plen;
    struct collect c = { NULL, 0, 0 };
    char ab[VK_ABBREV_LEN];
    int r = vk_fs_readdir_node(w->fs, &e->node, vk_path_abbrev(w->path, ab), collect_cb, &c);
    if (r < 0) {
        free_kids(c.v, c.n);
        return r == -ENOMEM || parent == SIZE_MAX ? r : report(w, e, w->nfr, r);
    }
    if ((r = prep_kids(w, plen, &c)) < 0)
        return r;
    struct frame *f = vk_grow(w->fr, &w->capfr, w->nfr + 1, sizeof *f, 16);
    if (!f || seen_add(w, e->node.id, parent, parent == SIZE_MAX ? w->path : e->name) < 0) {
        if (f)
            w->fr = f;
        free_kids(c.v, c.n);
        return vk_error(-ENOMEM, "out of memory");
    }
    w->fr = f;
    struct vk_walk_visit v = { VK_WALK_ENTER, w->path, w->nfr, e, c.v, c.n, 0 };
    if ((r = w->cb(w->ctx, &v)) != 0) {
        free_kids(c.v, c.n);
        return r;
    }
    f[w->nfr++] = (struct frame){ .self = *e, .kids = c.v, .n = c.n, .plen = plen,
                                  .seen = w->nseen - 1 };
    return 0;
}

static int run(struct walk *w)
{
    while (w->nfr) {
        struct frame *f = &w->fr[w->nfr - 1];
        int r = set_path(w, f->plen, "");
        if (r < 0)
            return r;
        if (f->i == f->n) {
            struct vk_walk_visit v = { VK_WALK_LEAVE, w->path, w->nfr - 1, &f->self, NULL, 0, 0 };
            r = w->cb(w->ctx, &v);
            free_kids(f->kids, f->n);
            w->nfr--;
            if (r < 0)
                return r;
            continue;
        }
        const struct vk_walk_ent *k = &f->kids[f->i++];
        if ((r = set_path(w, f->plen, k->name)) < 0)
            return r;
        if (!S_ISDIR(k->node.type)) {
            struct vk_walk_visit v = { VK_WALK_FILE, w->path, w->nfr, k, NULL, 0, 0 };
            if ((r = w->cb(w->ctx, &v)) < 0)
                return r;
            continue;
        }
        if ((r = check_loop(w, k)) < 0) {
            if ((r = report(w, k, w->nfr, r)) < 0)
                return r;
            continue;
        }
        if ((r = enter(w, k, f->seen)) < 0)
            return r;
    }
    return 0;
}

int vk_fs_walk(struct vk_fs *fs, const char *path, int flags, vk_walk_cb cb, void *ctx)
{
    struct walk w = { .fs = fs, .flags = flags, .cb = cb, .ctx = ctx };
    struct vk_walk_ent top;
    memset(&top, 0, sizeof top);
    int r = vk_fs_lookup_node(fs, path, flags & VK_WALK_FOLLOW, &top.node);
    if (r < 0 || (r = vk_fs_stat_node(fs, &top.node, path, &top.st)) < 0)
        return r;
    if (!top.node.type)
        top.node.type = top.st.mode & S_IFMT;
    const char *slash = strrchr(path, '/');
    top.name = (char *)(slash ? slash + 1 : path);
    if ((r = set_path(&w, 0, path)) < 0)
        return r;
    if (!S_ISDIR(top.node.type)) {
        struct vk_walk_visit v = { VK_WALK_FILE, w.path, 0, &top, NULL, 0, 0 };
        r = cb(ctx, &v);
    } else {
        r = enter(&w, &top, SIZE_MAX);
        if (r == 0)
            r = run(&w);
    }
    for (size_t i = w.nfr; i-- > 0;)
        free_kids(w.fr[i].kids, w.fr[i].n);
    for (size_t i = 0; i < w.nseen; i++)
        free(w.seen[i].name);
    free(w.seen);
    free(w.hash);
    free(w.fr);
    free(w.path);
    return r < 0 ? r : 0;
}
