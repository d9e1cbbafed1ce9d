/* GRUB2 grub.cfg reader.
 *
 * The script is tokenized one command at a time as GRUB's shell does
 * (words, 'single' and "double" quotes, backslash escapes, # comments,
 * newline or ';' ending a command) with $var / ${var} expanded from the
 * values `set` (and `load_env`, from the grubenv given) gave so far.  Only
 * menuentry/submenu blocks, `set`, `load_env`, `blscfg` (the Boot Loader
 * Specification entries given, as Fedora's GRUB reads them), linux/initrd,
 * the commands that boot something else (chainloader, multiboot...) and
 * block structure mean anything; conditions are not evaluated and every
 * other command is ignored, so nothing is executed. */
#include "boot/bootcfg.h"
#include "boot/bls.h"

#include "util/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXWORDS 256
#define MAXVARS  256
#define MAXDEPTH 8
#define MAXLOOPS 16

struct var { char *name, *value; };

/* A `loopback NAME FILE` device: FILE (device prefix removed) is an image
 * in the filesystem being read.  One made inside an entry lasts until the
 * entry's end (GRUB runs an entry's commands only when it boots it). */
struct loopdev { char *name, *file; bool in_entry; };

enum blk { B_SUBMENU, B_ENTRY, B_SKIP };

struct st {
    const char *p;
    unsigned line;
    const char *name;
    struct var vars[MAXVARS];
    unsigned nvars;
    struct loopdev loops[MAXLOOPS];
    unsigned nloops;
    char *ird_loop;     /* the current entry's initrds: their loopback image */
    bool ird_mixed;     /* ... they came from different places */
    char *w[MAXWORDS];
    bool bare[MAXWORDS];   /* the word had no quotes: "{" "}" are syntax only then */
    unsigned nw;
};

static const char *getvar(struct st *s, const char *n)
{
    for (unsigned i = 0; i < s->nvars; i++)
        if (!strcmp(s->vars[i].name, n))
            return s->vars[i].value;
    return "";
}

static int setvar(struct st *s, const char *n, const char *v)
{
    for (unsigned i = 0; i < s->nvars; i++)
        if (!strcmp(s->vars[i].name, n)) {
            char *d = strdup(v);
            if (!d)
                return -ENOMEM;
            free(s->vars[i].value);
            s->vars[i].value = d;
            return 0;
        }
    if (s->nvars >= MAXVARS)
        return vk_error(-E2BIG, "%s line %u: more than %d variables", s->name, s->line, MAXVARS);
    s->vars[s->nvars].name = strdup(n);
    s->vars[s->nvars].value = strdup(v);
    if (!s->vars[s->nvars].name || !s->vars[s->nvars].value) {
        free(s->vars[s->nvars].name);
        free(s->vars[s->nvars].value);
        return -ENOMEM;
    }
    s->nvars++;
    return 0;
}

static void free_words(struct st *s)
{
    for (unsigned i = 0; i < s->nw; i++)
        free(s->w[i]);
    s->nw = 0;
}

struct buf { char d[VK_BOOTCFG_WORD]; size_t n; };

static int put(struct st *s, struct buf *b, const char *src, size_t len)
{
    if (b->n + len >= sizeof b->d)
        return vk_error(-E2BIG, "%s line %u: word longer than %d bytes", s->name, s->line,
                        VK_BOOTCFG_WORD);
    memcpy(b->d + b->n, src, len);
    b->n += len;
    return 0;
}

/* $name or ${name} at s->p (pointing at '$'). */
static int expand(struct st *s, struct buf *b)
{
    const char *p = s->p + 1;
    char name[128];
    size_t n = 0;
    if (*p == '{') {
        p++;
        while (*p && *p != '}' && *p != '\n') {
            if (n + 1 < sizeof name)
                name[n++] = *p;
            p++;
        }
        if (*p != '}')
            return vk_error(-EINVAL, "%s line %u: unterminated ${", s->name, s->line);
        p++;
    } else if (isalnum((unsigned char)*p) || *p == '_') {
        while (isalnum((unsigned char)*p) || *p == '_') {
            if (n + 1 < sizeof name)
                name[n++] = *p;
            p++;
        }
    } else if (*p == '?' || *p == '@' || *p == '#' || *p == '*') {
        p++;  /* special parameters: empty here */
    } else {
        s->p++;
        return put(s, b, "$", 1);
    }
    name[n] = '\0';
    s->p = p;
    const char *v = getvar(s, name);
    return put(s, b, v, strlen(v));
}

/* Read the next command's words into s->w.  Returns 1 if a command was
 * read, 0 at end of input, <0 on error. */
static int next_command(struct st *s)
{
    free_words(s);
    for (;;) {
        /* between words */
        while (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' ||
               (*s->p == '\\' && s->p[1] == '\n')) {
            if (*s->p == '\\') {
                s->p++;
                s->line++;
            }
            s->p++;
        }
        if (*s->p == '#') {
            while (*s->p && *s->p != '\n')
                s->p++;
        }
        if (*s->p == '\0')
            return s->nw > 0;
        if (*s->p == '\n' || *s->p == ';') {
            if (*s->p == '\n')
                s->line++;
            s->p++;
            if (s->nw)
                return 1;
            continue;
        }
        /* a word */
        struct buf b;
        b.n = 0;
        bool quoted = false;
        int r = 0;
        while (*s->p && !strchr(" \t\r\n;", *s->p) && r == 0) {
            char c = *s->p;
            if (c == '\'') {
                quoted = true;
                const char *e = strchr(s->p + 1, '\'');
                if (!e)
                    return vk_error(-EINVAL, "%s line %u: unterminated ' quote", s->name, s->line);
                for (const char *q = s->p + 1; q < e; q++)
                    s->line += *q == '\n';
                r = put(s, &b, s->p + 1, e - s->p - 1);
                s->p = e + 1;
            } else if (c == '"') {
                quoted = true;
                s->p++;
                while (*s->p && *s->p != '"' && r == 0) {
                    if (*s->p == '\\' && s->p[1] && strchr("\"\\$\n", s->p[1])) {
                        if (s->p[1] != '\n')
                            r = put(s, &b, s->p + 1, 1);
                        else
                            s->line++;
                        s->p += 2;
                    } else if (*s->p == '$') {
                        r = expand(s, &b);
                    } else {
                        s->line += *s->p == '\n';
                        r = put(s, &b, s->p++, 1);
                    }
                }
                if (r == 0 && *s->p != '"')
                    return vk_error(-EINVAL, "%s line %u: unterminated \" quote", s->name, s->line);
                s->p++;
            } else if (c == '\\' && s->p[1]) {
                if (s->p[1] == '\n')
                    s->line++;
                else
                    r = put(s, &b, s->p + 1, 1);
                s->p += 2;
            } else if (c == '$') {
                r = expand(s, &b);
            } else {
                r = put(s, &b, s->p++, 1);
            }
        }
        if (r < 0)
            return r;
        if (s->nw >= MAXWORDS)
            return vk_error(-E2BIG, "%s line %u: more than %d words in a command", s->name,
                            s->line, MAXWORDS);
        if (!quoted && b.n == 0)
            continue;  /* an unquoted $var that expanded to nothing is no word */
        b.d[b.n] = '\0';
        if (!(s->w[s->nw] = strdup(b.d)))
            return -ENOMEM;
        s->bare[s->nw++] = !quoted;
    }
}

static bool is(struct st *s, unsigned i, const char *kw)
{
    return i < s->nw && s->bare[i] && !strcmp(s->w[i], kw);
}

/* (hd0,msdos1) or hd0,gpt2 in $root: the partition number. */
static int root_part(const char *root)
{
    int part = 0;
    char tmp[160];
    snprintf(tmp, sizeof tmp, "(%s)", root[0] == '(' ? root + 1 : root);
    free(vk_bootcfg_devpath(tmp, &part));
    return part;
}

/* load_env [-f FILE] [--skip-sig] [NAME...]: the variables of the
 * grubenv block given (all, or only the NAMEs), whatever FILE says: the
 * caller read the grubenv next to grub.cfg.  Lines "name=value", '#'
 * padding; a backslash escapes the next character, as grub-editenv writes
 * it. */
static int load_env(struct st *s, const struct vk_bootcfg_env *env, unsigned argc, char **argv)
{
    if (!env->saved)
        return 0;
    char *copy = strdup(env->saved);
    if (!copy)
        return -ENOMEM;
    int r = 0;
    char *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l && r == 0; l = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(l, '=');
        if (*l == '#' || !eq || eq == l)
            continue;
        *eq = '\0';
        char *v = eq + 1, *o = v;
        for (char *c = v; *c; c++)
            *o++ = *c == '\\' && c[1] ? *++c : *c;
        *o = '\0';
        bool want = true;
        for (unsigned i = 1; i < argc; i++) {
            if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--file")) {
                i++;
                continue;
            }
            if (argv[i][0] == '-')
                continue;
            want = false;
            if (!strcmp(argv[i], l)) {
                want = true;
                break;
            }
        }
        if (want)
            r = setvar(s, l, v);
    }
    free(copy);
    return r;
}

/* The words of text as GRUB's shell splits them, $variables expanded,
 * space-joined into *out (an options line of a BLS entry: blscfg's
 * entries run `linux $linux $options`). */
static int expand_words(struct st *s, const char *text, char **out)
{
    const char *p = s->p;
    unsigned line = s->line;
    char *t = strdup(text);
    int r = t ? 0 : -ENOMEM;
    /* ';' and newlines would end a command: options are one line */
    for (char *c = t; c && *c; c++)
        if (*c == ';' || *c == '\n')
            *c = ' ';
    if (r == 0 && !(*out = strdup("")))
        r = -ENOMEM;
    s->p = t ? t : "";
    int k;
    while (r == 0 && (k = next_command(s)) != 0) {
        if (k < 0) {
            r = k;
            break;
        }
        for (unsigned i = 0; i < s->nw && r == 0; i++)
            r = vk_bootcfg_append(out, s->w[i]);
    }
    free_words(s);
    s->p = p;
    s->line = line;
    free(t);
    return r;
}

/* blscfg: the BLS entries of env as menu entries of the menu (entry index
 * parent, path prefix ppath, title prefix ptitle; NULL at the top), from
 * position *count on. */
static int blscfg(struct st *s, const struct vk_bootcfg_env *env, struct vk_bootcfg *out,
                  int parent, const char *ppath, const char *ptitle, unsigned *count)
{
    struct vk_bls_entry *v;
    int r = vk_bls_parse(env->bls, env->n_bls, s->name, &v);
    if (r < 0)
        return r;
    for (unsigned i = 0; i < env->n_bls && r == 0; i++) {
        struct vk_boot_entry *e = vk_bootcfg_add(out, s->name, parent, *count);
        if (!e) {
            r = -E2BIG;
            break;
        }
        const char *t = v[i].title ? v[i].title : v[i].id;
        if (asprintf(&e->path, "%s%s%u", ppath ? ppath : "", ppath ? ">" : "", (*count)++) < 0 ||
            asprintf(&e->title, "%s%s%s", ptitle ? ptitle : "", ptitle ? ">" : "", t) < 0) {
            e->path = e->title = NULL;
            r = -ENOMEM;
            break;
        }
        if (!(e->label = strdup(t)) || !(e->own_id = strdup(v[i].id)) ||
            (!ppath && !(e->id = strdup(v[i].id))) ||
            (v[i].initrd && !(e->initrd = strdup(v[i].initrd)))) {
            r = -ENOMEM;
            break;
        }
        if (v[i].linux) {
            int part = 0;
            if (!(e->kernel = vk_bootcfg_devpath(v[i].linux, &part))) {
                r = -ENOMEM;
                break;
            }
            e->root_part = part;
            if (vk_bootcfg_not_linux(e->kernel))
                r = vk_bootcfg_other(e, vk_bootcfg_not_linux(e->kernel), e->kernel);
        }
        if (r == 0)
            r = expand_words(s, v[i].options ? v[i].options : "", &e->args);
    }
    vk_bls_free(v, env->n_bls);
    return r;
}

static void loop_drop(struct st *s, unsigned i)
{
    free(s->loops[i].name);
    free(s->loops[i].file);
    s->loops[i] = s->loops[--s->nloops];
}

/* `loopback [-d] NAME [FILE]`: define (or with -d delete) device NAME. */
static int loopback(struct st *s, bool in_entry, unsigned argc, char **argv)
{
    bool del = argc >= 2 && !strcmp(argv[1], "-d");
    unsigned a = del ? 2 : 1;
    if (argc < a + (del ? 1 : 2))
        return 0;                       /* GRUB would fail: nothing defined */
    char dev[64];
    snprintf(dev, sizeof dev, "%.*s", (int)strcspn(argv[a] + (argv[a][0] == '('),  ")"),
             argv[a] + (argv[a][0] == '('));
    for (unsigned i = 0; i < s->nloops; i++)
        if (!strcmp(s->loops[i].name, dev)) {
            loop_drop(s, i);
            break;
        }
    if (del)
        return 0;
    if (s->nloops >= MAXLOOPS)
        return vk_error(-E2BIG, "%s line %u: more than %d loopback devices", s->name, s->line,
                        MAXLOOPS);
    struct loopdev *l = &s->loops[s->nloops];
    l->name = strdup(dev);
    l->file = vk_bootcfg_devpath(argv[a + 1], NULL);
    l->in_entry = in_entry;
    if (!l->name || !l->file) {
        free(l->name);
        free(l->file);
        return -ENOMEM;
    }
    s->nloops++;
    return 0;
}

/* The loopback image a path of a linux/initrd command lies in: its
 * "(dev)" prefix or, without one, $root naming a loopback device; NULL
 * when the path is on a disk partition. */
static const char *loop_of(struct st *s, const char *path)
{
    const char *dev = path;
    if (path[0] != '(') {
        dev = getvar(s, "root");
        if (!*dev)
            return NULL;
    }
    dev += dev[0] == '(';
    size_t n = strcspn(dev, ")");
    for (unsigned i = 0; i < s->nloops; i++)
        if (strlen(s->loops[i].name) == n && !strncmp(s->loops[i].name, dev, n))
            return s->loops[i].file;
    return NULL;
}

/* An entry whose kernel and initrds do not all come from the same place
 * (one loopback image, or the filesystem itself) cannot be booted from
 * one filesystem: it is recorded as booting something else, so pygrub
 * names it instead of reading an initrd from the wrong place.  mixed: the
 * initrds themselves differ; ird_loop: their image (NULL: none). */
static int loop_mismatch(struct vk_boot_entry *e, bool mixed, const char *ird_loop)
{
    if (!mixed && (e->loop == NULL) == (ird_loop == NULL) && (!ird_loop || !strcmp(e->loop, ird_loop)))
        return 0;
    return vk_bootcfg_other(e, "a kernel and initrd on different devices (loopback)", NULL);
}

int vk_bootcfg_grub2(const char *text, const char *name, const struct vk_bootcfg_env *env,
                     struct vk_bootcfg *out)
{
    struct st s = { .p = text, .line = 1, .name = name };
    int menu[MAXDEPTH + 1];               /* entry index of the submenu at each menu level */
    menu[0] = -1;
    enum blk stack[MAXDEPTH + 1];
    char *path[MAXDEPTH + 1] = { 0 };     /* path prefix of each submenu level */
    char *title[MAXDEPTH + 1] = { 0 };
    char *idp[MAXDEPTH + 1] = { 0 };      /* id path of each submenu level, NULL: none */
    unsigned count[MAXDEPTH + 1] = { 0 }; /* entries seen at each menu level */
    unsigned depth = 0, mdepth = 0;       /* block depth, menu depth */
    unsigned skip = 0;                    /* inside a function body */
    struct vk_boot_entry *cur = NULL;
    int r;

    while ((r = next_command(&s)) > 0) {
        r = 0;
        unsigned w0 = 0;
        /* keywords that only introduce a command */
        while (w0 < s.nw && (is(&s, w0, "then") || is(&s, w0, "else") || is(&s, w0, "do")))
            w0++;
        if (w0 == s.nw)
            continue;
        const char *cmd = s.w[w0];
        unsigned argc = s.nw - w0;
        char **argv = s.w + w0;
        bool opens = s.bare[s.nw - 1] && !strcmp(s.w[s.nw - 1], "{");

        if (is(&s, w0, "}")) {
            if (!depth) {
                r = vk_error(-EINVAL, "%s line %u: '}' without a block", name, s.line);
                break;
            }
            enum blk k = stack[--depth];
            if (k == B_SKIP)
                skip--;
            else if (k == B_ENTRY) {
                if (cur->kernel && cur->initrd &&
                    (r = loop_mismatch(cur, s.ird_mixed, s.ird_loop)) < 0)
                    break;
                cur = NULL;
                for (unsigned i = s.nloops; i-- > 0;)
                    if (s.loops[i].in_entry)
                        loop_drop(&s, i);
            }
            else if (k == B_SUBMENU) {
                free(path[mdepth]);
                free(title[mdepth]);
                free(idp[mdepth]);
                path[mdepth] = title[mdepth] = idp[mdepth] = NULL;
                count[mdepth] = 0;
                mdepth--;
            }
            continue;
        }
        if (opens) {
            if (depth >= MAXDEPTH) {
                r = vk_error(-E2BIG, "%s line %u: blocks nested deeper than %d", name, s.line, MAXDEPTH);
                break;
            }
            bool entry = !strcmp(cmd, "menuentry"), sub = !strcmp(cmd, "submenu");
            if (skip || cur || (!entry && !sub)) {
                /* function bodies, blocks inside an entry: read, not used */
                stack[depth++] = B_SKIP;
                skip++;
                continue;
            }
            if (argc < 3) {
                r = vk_error(-EINVAL, "%s line %u: %s without a title", name, s.line, cmd);
                break;
            }
            char p[64 * (MAXDEPTH + 1)];
            snprintf(p, sizeof p, "%s%s%u", mdepth ? path[mdepth] : "", mdepth ? ">" : "",
                     count[mdepth]++);
            /* "submenu>entry": joined in one step, as either title may be
             * empty (appending with a space and then overwriting it broke
             * the string when the submenu title was "") */
            /* GRUB takes options anywhere (Debian's installer ISOs write
             * "menuentry --hotkey=i 'Install'"): the title is the first
             * word that is neither an option nor the value of one */
            unsigned ti = 1;
            while (ti + 1 < argc && argv[ti][0] == '-' && argv[ti][1] == '-') {
                bool val = !strchr(argv[ti], '=') &&
                           (!strcmp(argv[ti], "--id") || !strcmp(argv[ti], "--class") ||
                            !strcmp(argv[ti], "--users") || !strcmp(argv[ti], "--hotkey"));
                ti += val ? 2 : 1;
            }
            if (ti + 1 >= argc)
                ti = 1;
            char *t = NULL;
            if (asprintf(&t, "%s%s%s", mdepth ? title[mdepth] : "", mdepth ? ">" : "",
                         argv[ti]) < 0) {
                r = -ENOMEM;
                break;
            }
            /* the id: "--id X", or the bare word $menuentry_id_option left */
            const char *id = NULL;
            for (unsigned i = 1; i + 1 < argc && !id; i++) {
                if (i == ti)
                    continue;
                if (!strcmp(argv[i], "--id") && i + 2 < argc)
                    id = argv[i + 1];
                else if (!strncmp(argv[i], "--id=", 5))
                    id = argv[i] + 5;
                else if (!strcmp(argv[i], "--class") || !strcmp(argv[i], "--users") ||
                         !strcmp(argv[i], "--hotkey"))
                    i++;
                else if (argv[i][0] && argv[i][0] != '-')
                    id = argv[i];
            }
            char *idfull = NULL;
            if (id && (!mdepth || idp[mdepth])) {
                if (asprintf(&idfull, "%s%s%s", mdepth ? idp[mdepth] : "", mdepth ? ">" : "", id) < 0) {
                    free(t);
                    r = -ENOMEM;
                    break;
                }
            }
            struct vk_boot_entry *ne = vk_bootcfg_add(out, name, menu[mdepth], count[mdepth] - 1);
            if (!ne) {
                free(t);
                free(idfull);
                r = -E2BIG;
                break;
            }
            ne->title = t;
            ne->id = idfull;
            ne->submenu = sub;
            if (!(ne->path = strdup(p)) || !(ne->args = strdup("")) ||
                !(ne->label = strdup(argv[ti])) || (id && !(ne->own_id = strdup(id)))) {
                r = -ENOMEM;
                break;
            }
            if (entry) {
                cur = ne;
                stack[depth++] = B_ENTRY;
                free(s.ird_loop);
                s.ird_loop = NULL;
                s.ird_mixed = false;
            } else {
                mdepth++;
                menu[mdepth] = (int)(out->n - 1);
                path[mdepth] = strdup(p);
                if (!(title[mdepth] = strdup(t))) {
                    r = -ENOMEM;
                    break;
                }
                idp[mdepth] = idfull ? strdup(idfull) : NULL;
                count[mdepth] = 0;
                stack[depth++] = B_SUBMENU;
                if (!path[mdepth] || (idfull && !idp[mdepth])) {
                    r = -ENOMEM;
                    break;
                }
            }
            continue;
        }
        if (skip)
            continue;
        /* "set name=value" or GRUB's bare "name=value" */
        char *assign = !strcmp(cmd, "set") && argc >= 2 ? argv[1]
                       : argc == 1 && strchr(cmd, '=') && cmd[0] != '=' && s.bare[w0] ? argv[0]
                       : NULL;
        if (assign) {
            char *eq = strchr(assign, '=');
            if (eq) {
                *eq = '\0';
                if ((r = setvar(&s, assign, eq + 1)) < 0)
                    break;
                if (!cur && !mdepth && !strcmp(assign, "default")) {
                    free(out->def);
                    if (!(out->def = strdup(eq + 1))) {
                        r = -ENOMEM;
                        break;
                    }
                }
            }
            continue;
        }
        if (!strcmp(cmd, "load_env")) {
            if ((r = load_env(&s, env, argc, argv)) < 0)
                break;
            continue;
        }
        if (!strcmp(cmd, "loopback")) {
            if ((r = loopback(&s, cur != NULL, argc, argv)) < 0)
                break;
            continue;
        }
        if (!cur && !strcmp(cmd, "blscfg")) {
            if ((r = blscfg(&s, env, out, menu[mdepth], mdepth ? path[mdepth] : NULL,
                            mdepth ? title[mdepth] : NULL, &count[mdepth])) < 0)
                break;
            continue;
        }
        if (!cur)
            continue;
        const char *other = !strcmp(cmd, "chainloader") ? "a chainloader"
                          : !strcmp(cmd, "multiboot") || !strcmp(cmd, "multiboot2")
                            ? "a multiboot kernel"
                          : !strncmp(cmd, "kfreebsd", 8) || !strncmp(cmd, "knetbsd", 7) ||
                            !strncmp(cmd, "kopenbsd", 8) ? "a BSD kernel"
                          : !strcmp(cmd, "appleloader") ? "an Apple loader"
                          : !strcmp(cmd, "fwsetup") ? "the firmware's setup"
                          : NULL;
        if (other) {
            /* xen.gz through multiboot2 is what Debian's 20_linux_xen
             * writes: name the hypervisor */
            if (argc >= 2 && (!strcmp(cmd, "multiboot") || !strcmp(cmd, "multiboot2")) &&
                vk_bootcfg_not_linux(argv[1]))
                other = vk_bootcfg_not_linux(argv[1]);
            if ((r = vk_bootcfg_other(cur, other, argc >= 2 ? argv[1] : NULL)) < 0)
                break;
            continue;
        }
        if ((!strcmp(cmd, "linux") || !strcmp(cmd, "linux16") || !strcmp(cmd, "linuxefi")) &&
            argc >= 2) {
            free(cur->kernel);
            free(cur->args);
            cur->args = NULL;
            int part = 0;
            if (!(cur->kernel = vk_bootcfg_devpath(argv[1], &part))) {
                r = -ENOMEM;
                break;
            }
            if (argv[1][0] != '(' && *getvar(&s, "root"))
                part = root_part(getvar(&s, "root"));
            cur->root_part = part;
            const char *lf = loop_of(&s, argv[1]);
            free(cur->loop);
            cur->loop = NULL;
            if (lf && !(cur->loop = strdup(lf))) {
                r = -ENOMEM;
                break;
            }

            if (vk_bootcfg_not_linux(cur->kernel) &&
                (r = vk_bootcfg_other(cur, vk_bootcfg_not_linux(cur->kernel), cur->kernel)) < 0)
                break;
            if (!(cur->args = strdup(""))) {
                r = -ENOMEM;
                break;
            }
            for (unsigned i = 2; i < argc && r == 0; i++)
                r = vk_bootcfg_append(&cur->args, argv[i]);
            if (r < 0)
                break;
        } else if ((!strcmp(cmd, "initrd") || !strcmp(cmd, "initrd16") ||
                    !strcmp(cmd, "initrdefi")) && argc >= 2) {
            /* GRUB concatenates several initrds (microcode first, then
             * the initramfs); keep them all, newline-separated, and
             * pygrub concatenates them the same way. */
            free(cur->initrd);
            cur->initrd = NULL;
            free(s.ird_loop);
            s.ird_loop = NULL;
            s.ird_mixed = false;
            for (unsigned i = 1; i < argc && r == 0; i++) {
                const char *lf = loop_of(&s, argv[i]);
                if (i == 1) {
                    if (lf && !(s.ird_loop = strdup(lf))) {
                        r = -ENOMEM;
                        break;
                    }
                } else if ((lf == NULL) != (s.ird_loop == NULL) ||
                           (lf && strcmp(lf, s.ird_loop))) {
                    s.ird_mixed = true;
                }
                char *d = vk_bootcfg_devpath(argv[i], NULL);
                if (!d) {
                    r = -ENOMEM;
                    break;
                }
                size_t a = cur->initrd ? strlen(cur->initrd) : 0, b = strlen(d);
                char *n = realloc(cur->initrd, a + b + 2);
                if (!n) {
                    free(d);
                    r = -ENOMEM;
                    break;
                }
                if (a)
                    n[a++] = '\n';
                memcpy(n + a, d, b + 1);
                cur->initrd = n;
                free(d);
            }
            if (r < 0)
                break;
        }
    }
    if (r == 0 && depth)
        r = vk_error(-EINVAL, "%s: missing '}' at end of file (%u block%s open)", name, depth,
                     depth > 1 ? "s" : "");
    free_words(&s);
    free(s.ird_loop);
    while (s.nloops)
        loop_drop(&s, 0);
    for (unsigned i = 0; i < s.nvars; i++) {
        free(s.vars[i].name);
        free(s.vars[i].value);
    }
    for (unsigned i = 0; i <= MAXDEPTH; i++) {
        free(path[i]);
        free(title[i]);
        free(idp[i]);
    }
    if (r == -ENOMEM)
        vk_error(r, "%s: out of memory", name);
    return r < 0 ? r : 0;
}
