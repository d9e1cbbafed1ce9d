/* xl.cfg lexer and parser: text -> struct vk_domcfg. */
#include "vm/config.h"
#include "util/err.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum vtype { V_STR, V_NUM, V_LIST };

/* One parsed value.  List items are strings (numbers in lists are kept as
 * their decimal text). */
struct val {
    enum vtype t;
    char *s;
    unsigned long long n;
    char **items;
    unsigned n_items;
    int line, col;
};

struct lexer {
    const char *p, *end, *fname;
    int line, col;
    int bare_ok;                /* overrides: bare words are strings */
};

static void val_free(struct val *v)
{
    free(v->s);
    for (unsigned i = 0; i < v->n_items; i++)
        free(v->items[i]);
    free(v->items);
    memset(v, 0, sizeof *v);
}

static int perr(struct lexer *L, int line, int col, const char *what)
{
    return vk_error(-EINVAL, "%s:%d:%d: %s", L->fname, line, col, what);
}

static int peek(struct lexer *L) { return L->p < L->end ? (unsigned char)*L->p : -1; }

static void adv(struct lexer *L)
{
    if (*L->p == '\n') {
        L->line++;
        L->col = 1;
    } else {
        L->col++;
    }
    L->p++;
}

/* Skip blanks and comments; newlines too when nl is set. */
static void skip_ws(struct lexer *L, int nl)
{
    for (;;) {
        int c = peek(L);
        if (c == ' ' || c == '\t' || c == '\r' || (nl && c == '\n'))
            adv(L);
        else if (c == '#')
            while (peek(L) >= 0 && peek(L) != '\n')
                adv(L);
        else
            return;
    }
}

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* A quoted string at L->p.  Double-quoted strings take the escapes
 * \\ \" \' \n \t \r \xHH; single-quoted strings are literal. */
static int lex_string(struct lexer *L, char **out)
{
    int q = peek(L), line = L->line, col = L->col;
    adv(L);
    size_t cap = 64, n = 0;
    char *b = malloc(cap);
    if (!b)
        return vk_error(-ENOMEM, "out of memory");
    for (;;) {
        int c = peek(L);
        if (c < 0 || c == '\n') {
            free(b);
            return perr(L, line, col, "unterminated string");
        }
        if (c == 0) {
            free(b);
            return perr(L, L->line, L->col, "NUL byte in string");
        }
        adv(L);
        if (c == q)
            break;
        if (c == '\\' && q == '"') {
            int e = peek(L), ecol = L->col - 1;
            if (e < 0 || e == '\n') {
                free(b);
                return perr(L, line, col, "unterminated string");
            }
            adv(L);
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '\\': case '"': case '\'': c = e; break;
            case 'x': {
                int h1 = hexval(peek(L));
                if (h1 >= 0) adv(L);
                int h2 = h1 >= 0 ? hexval(peek(L)) : -1;
                if (h2 < 0 || (h1 == 0 && h2 == 0)) {
                    free(b);
                    return perr(L, L->line, ecol, "bad \\x escape in string");
                }
                adv(L);
                c = h1 * 16 + h2;
                break;
            }
            default:
                free(b);
                return perr(L, L->line, ecol, "unknown escape in string");
            }
        }
        if (n + 2 > cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                return vk_error(-ENOMEM, "out of memory");
            }
            b = nb;
        }
        b[n++] = (char)c;
    }
    b[n] = 0;
    *out = b;
    return 0;
}

static int is_word(int c) { return c >= 0 && (isalnum(c) || c == '_' || c == '-' || c == '.'); }

static int lex_number(struct lexer *L, unsigned long long *out)
{
    int line = L->line, col = L->col, base = 10;
    unsigned long long v = 0;
    if (peek(L) == '0' && L->p + 1 < L->end && (L->p[1] == 'x' || L->p[1] == 'X')) {
        adv(L);
        adv(L);
        base = 16;
        if (hexval(peek(L)) < 0)
            return perr(L, line, col, "bad hexadecimal number");
    }
    while (is_word(peek(L))) {
        int d = hexval(peek(L));
        if (d < 0 || d >= base)
            return perr(L, line, col, "bad number");
        if (v > (UINT64_MAX - (unsigned)d) / (unsigned)base)
            return perr(L, line, col, "number too large");
        v = v * (unsigned)base + (unsigned)d;
        adv(L);
    }
    *out = v;
    return 0;
}

/* A scalar: string, number, or (overrides only) a bare word. */
static int lex_scalar(struct lexer *L, struct val *v)
{
    int c = peek(L);
    v->line = L->line;
    v->col = L->col;
    if (c == '"' || c == '\'') {
        v->t = V_STR;
        return lex_string(L, &v->s);
    }
    if (c >= 0 && isdigit(c)) {
        const char *start = L->p;
        struct lexer save = *L;
        int err = lex_number(L, &v->n);
        if (!err) {
            v->t = V_NUM;
            return 0;
        }
        if (!L->bare_ok)
            return err;
        *L = save;
        (void)start;
    }
    if (L->bare_ok && c >= 0 && c != '[' && c != ']' && c != ',' && !isspace(c)) {
        const char *s = L->p;
        while (peek(L) >= 0 && !isspace(peek(L)))
            adv(L);
        v->t = V_STR;
        v->s = strndup(s, (size_t)(L->p - s));
        return v->s ? 0 : vk_error(-ENOMEM, "out of memory");
    }
    return perr(L, L->line, L->col, "expected a string or number");
}

static int lex_value(struct lexer *L, struct val *v)
{
    if (peek(L) != '[')
        return lex_scalar(L, v);
    v->t = V_LIST;
    v->line = L->line;
    v->col = L->col;
    adv(L);
    for (;;) {
        skip_ws(L, 1);
        if (peek(L) == ']') {
            adv(L);
            return 0;
        }
        if (peek(L) < 0)
            return perr(L, v->line, v->col, "unterminated list");
        struct val it = { 0 };
        int err = lex_scalar(L, &it);
        if (err)
            return err;
        if (it.t == V_NUM) {
            char buf[32];
            snprintf(buf, sizeof buf, "%llu", it.n);
            it.s = strdup(buf);
            if (!it.s)
                return vk_error(-ENOMEM, "out of memory");
        }
        if (v->n_items >= VK_CFG_MAX_LIST) {
            free(it.s);
            return perr(L, it.line, it.col, "list too long");
        }
        char **ni = realloc(v->items, (v->n_items + 1) * sizeof *ni);
        if (!ni) {
            free(it.s);
            return vk_error(-ENOMEM, "out of memory");
        }
        v->items = ni;
        v->items[v->n_items++] = it.s;
        skip_ws(L, 1);
        if (peek(L) == ',') {
            adv(L);
        } else if (peek(L) != ']') {
            if (peek(L) < 0)
                return perr(L, v->line, v->col, "unterminated list");
            return perr(L, L->line, L->col, "expected ',' or ']' in list");
        }
    }
}

/* ---- applying a value to the struct ---- */

struct ctx {
    struct lexer *L;
    struct vk_domcfg *c;
    const char *key;
};

static int want(struct ctx *x, const struct val *v, enum vtype t)
{
    static const char *names[] = { "a string", "a number", "a list" };
    if (v->t == t)
        return 0;
    char m[128];
    snprintf(m, sizeof m, "%s: expected %s", x->key, names[t]);
    return perr(x->L, v->line, v->col, m);
}

static int take_str(struct ctx *x, struct val *v, char **dst)
{
    int err = want(x, v, V_STR);
    if (err)
        return err;
    free(*dst);
    *dst = v->s;
    v->s = NULL;
    return 0;
}

static int take_num(struct ctx *x, const struct val *v, unsigned long long max, unsigned *dst)
{
    int err = want(x, v, V_NUM);
    if (err)
        return err;
    if (v->n > max) {
        char m[192];
        snprintf(m, sizeof m, "%s: %llu is out of range (at most %llu)", x->key, v->n, max);
        return perr(x->L, v->line, v->col, m);
    }
    *dst = (unsigned)v->n;
    return 0;
}

static void free_disks(struct vk_domcfg *c)
{
    for (unsigned i = 0; i < c->n_disks; i++)
        vk_diskspec_free(&c->disks[i]);
    free(c->disks);
    c->disks = NULL;
    c->n_disks = 0;
}

static void free_vifs(struct vk_domcfg *c)
{
    for (unsigned i = 0; i < c->n_vifs; i++)
        vk_vifspec_free(&c->vifs[i]);
    free(c->vifs);
    c->vifs = NULL;
    c->n_vifs = 0;
}

static void free_strv(char ***v, unsigned *n)
{
    for (unsigned i = 0; i < *n; i++)
        free((*v)[i]);
    free(*v);
    *v = NULL;
    *n = 0;
}

/* Spec errors get the position of the list in front of their message. */
static int spec_err(struct ctx *x, const struct val *v, int err)
{
    if (err == -ENOMEM)
        return err;
    return vk_error_prefix(err, "%s:%d:%d: ", x->L->fname, v->line, v->col);
}

static int apply(struct ctx *x, struct val *v)
{
    struct vk_domcfg *c = x->c;
    const char *k = x->key;
    unsigned u;
    int err;

#define STRKEY(n) if (!strcmp(k, #n)) return take_str(x, v, &c->n)
    STRKEY(name); STRKEY(kernel); STRKEY(ramdisk); STRKEY(extra); STRKEY(root);
    STRKEY(cmdline); STRKEY(bootloader); STRKEY(boot); STRKEY(vnclisten);
    STRKEY(vncpasswd); STRKEY(serial); STRKEY(machine);
#undef STRKEY
    if (!strcmp(k, "uuid")) {
        if ((err = want(x, v, V_STR)))
            return err;
        const char *s = v->s;
        int ok = strlen(s) == 36;
        for (int i = 0; ok && i < 36; i++)
            ok = (i == 8 || i == 13 || i == 18 || i == 23) ? s[i] == '-' : isxdigit((unsigned char)s[i]);
        if (!ok)
            return perr(x->L, v->line, v->col, "uuid: expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
        return take_str(x, v, &c->uuid);
    }
    if (!strcmp(k, "accel")) {
        if ((err = want(x, v, V_STR)))
            return err;
        if (strcmp(v->s, "kvm") && strcmp(v->s, "tcg"))
            return perr(x->L, v->line, v->col, "accel: expected \"kvm\" or \"tcg\"");
        return take_str(x, v, &c->accel);
    }
    if (!strcmp(k, "memory"))
        return take_num(x, v, VK_CFG_MAX_MEM, &c->memory);
    if (!strcmp(k, "maxmem"))
        return take_num(x, v, VK_CFG_MAX_MEM, &c->maxmem);
    if (!strcmp(k, "vcpus"))
        return take_num(x, v, VK_CFG_MAX_VCPUS, &c->vcpus);
    if (!strcmp(k, "vnc") || !strcmp(k, "vncunused") || !strcmp(k, "sdl")) {
        if ((err = take_num(x, v, 1, &u)))
            return err;
        if (!strcmp(k, "vnc")) c->vnc = (int)u;
        else if (!strcmp(k, "vncunused")) c->vncunused = (int)u;
        else if (u) vk_warn("%s:%d: sdl is not supported, use vnc", x->L->fname, v->line);
        return 0;
    }
    if (!strcmp(k, "vncdisplay")) {
        if ((err = take_num(x, v, 59535, &u)))  /* 5900 + N must be a port */
            return err;
        c->vncdisplay = (int)u;
        return 0;
    }
    if (!strcmp(k, "on_poweroff") || !strcmp(k, "on_reboot") || !strcmp(k, "on_crash")) {
        enum vk_action a;
        if ((err = want(x, v, V_STR)))
            return err;
        if (vk_action_parse(v->s, &a)) {
            char m[256];
            snprintf(m, sizeof m, "%s: unknown action '%.40s' (destroy, restart, preserve)", k, v->s);
            return perr(x->L, v->line, v->col, m);
        }
        *(k[3] == 'p' ? &c->on_poweroff : k[3] == 'r' ? &c->on_reboot : &c->on_crash) = a;
        return 0;
    }
    if (!strcmp(k, "bootloader_args")) {
        free_strv(&c->bootloader_args, &c->n_bootloader_args);
        if (v->t == V_STR) {  /* xl accepts one string (deprecated form) */
            c->bootloader_args = malloc(sizeof(char *));
            if (!c->bootloader_args)
                return vk_error(-ENOMEM, "out of memory");
            c->bootloader_args[0] = v->s;
            v->s = NULL;
            c->n_bootloader_args = 1;
            return 0;
        }
        if ((err = want(x, v, V_LIST)))
            return err;
        c->bootloader_args = v->items;
        c->n_bootloader_args = v->n_items;
        v->items = NULL;
        v->n_items = 0;
        return 0;
    }
    if (!strcmp(k, "disk")) {
        if ((err = want(x, v, V_LIST)))
            return err;
        free_disks(c);
        if (v->n_items && !(c->disks = calloc(v->n_items, sizeof *c->disks)))
            return vk_error(-ENOMEM, "out of memory");
        for (unsigned i = 0; i < v->n_items; i++) {
            if ((err = vk_diskspec_parse(v->items[i], &c->disks[i])))
                return spec_err(x, v, err);
            c->n_disks++;
            for (unsigned j = 0; j < i; j++)
                if (c->disks[j].bus == c->disks[i].bus && c->disks[j].index == c->disks[i].index) {
                    char m[160];
                    snprintf(m, sizeof m, "disk: vdev '%s' used twice", c->disks[i].vdev);
                    return perr(x->L, v->line, v->col, m);
                }
        }
        return 0;
    }
    if (!strcmp(k, "vif")) {
        if ((err = want(x, v, V_LIST)))
            return err;
        free_vifs(c);
        c->vif_set = 1;
        if (v->n_items && !(c->vifs = calloc(v->n_items, sizeof *c->vifs)))
            return vk_error(-ENOMEM, "out of memory");
        for (unsigned i = 0; i < v->n_items; i++) {
            if ((err = vk_vifspec_parse(v->items[i], &c->vifs[i])))
                return spec_err(x, v, err);
            c->n_vifs++;
        }
        return 0;
    }
    /* Keys that describe Xen itself and mean nothing under QEMU. */
    static const char *quiet[] = { "type", "builder", "maxvcpus", "acpi", "apic", "pae",
                                   "localtime", "usb", "usbdevice", "stdvga", "vga",
                                   "keymap", "device_model_version", "device_model_override",
                                   "xen_platform_pci", "viridian", "hap", "nestedhvm", NULL };
    for (int i = 0; quiet[i]; i++)
        if (!strcmp(k, quiet[i])) {
            vk_warn("%s:%d: '%s' has no meaning under QEMU, ignored", x->L->fname, v->line, k);
            return 0;
        }
    vk_warn("%s:%d: unknown key '%s' ignored", x->L->fname, v->line, k);
    return 0;
}

static int parse_into(struct vk_domcfg *c, const char *text, size_t len,
                      const char *fname, int bare_ok)
{
    struct lexer L = { text, text + len, fname, 1, 1, bare_ok };
    char key[64];
    for (;;) {
        skip_ws(&L, 1);
        while (peek(&L) == ';') {
            adv(&L);
            skip_ws(&L, 1);
        }
        int c0 = peek(&L);
        if (c0 < 0)
            return 0;
        int kline = L.line, kcol = L.col;
        if (!isalpha(c0) && c0 != '_')
            return perr(&L, kline, kcol, "expected a key");
        size_t kl = 0;
        while (peek(&L) >= 0 && (isalnum(peek(&L)) || peek(&L) == '_')) {
            if (kl + 1 >= sizeof key)
                return perr(&L, kline, kcol, "key too long");
            key[kl++] = (char)peek(&L);
            adv(&L);
        }
        key[kl] = 0;
        skip_ws(&L, 0);
        if (peek(&L) != '=')
            return perr(&L, L.line, L.col, "expected '=' after key");
        adv(&L);
        skip_ws(&L, 0);
        struct val v = { 0 };
        int err = lex_value(&L, &v);
        if (!err) {
            skip_ws(&L, 0);
            int t = peek(&L);
            if (t >= 0 && t != '\n' && t != ';')
                err = perr(&L, L.line, L.col, "expected end of line after value");
        }
        if (!err) {
            struct ctx x = { &L, c, key };
            err = apply(&x, &v);
        }
        val_free(&v);
        if (err)
            return err;
    }
}

void vk_domcfg_init(struct vk_domcfg *c)
{
    memset(c, 0, sizeof *c);
    c->vncdisplay = -1;
    c->vncunused = 1;
    c->on_poweroff = VK_ACT_DESTROY;
    c->on_reboot = VK_ACT_RESTART;
    c->on_crash = VK_ACT_DESTROY;
}

void vk_domcfg_free(struct vk_domcfg *c)
{
    char **s[] = { &c->name, &c->uuid, &c->kernel, &c->ramdisk, &c->extra, &c->root,
                   &c->cmdline, &c->bootloader, &c->boot, &c->vnclisten, &c->vncpasswd,
                   &c->serial, &c->accel, &c->machine, &c->source };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        free(*s[i]);
    free_strv(&c->bootloader_args, &c->n_bootloader_args);
    free_disks(c);
    free_vifs(c);
    vk_domcfg_init(c);
}

/* Contract in config.h. */
int vk_domcfg_parse(const char *text, size_t len, const char *filename,
                    struct vk_domcfg *out)
{
    vk_domcfg_init(out);
    const char *fn = filename ? filename : "<config>";
    if (len > VK_CFG_MAX_BYTES)
        return vk_error(-EFBIG, "%s: config is larger than %u bytes", fn, VK_CFG_MAX_BYTES);
    if (filename && !(out->source = strdup(filename)))
        return vk_error(-ENOMEM, "out of memory");
    int err = parse_into(out, text, len, fn, 0);
    if (err)
        vk_domcfg_free(out);
    return err;
}

/* Contract in config.h. */
int vk_domcfg_load(const char *path, struct vk_domcfg *out)
{
    vk_domcfg_init(out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return vk_error(-EINVAL, "%s: not a regular file", path);
    }
    if (st.st_size > (off_t)VK_CFG_MAX_BYTES) {
        close(fd);
        return vk_error(-EFBIG, "%s: config is larger than %u bytes", path, VK_CFG_MAX_BYTES);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return vk_error(-ENOMEM, "out of memory");
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return vk_error(-e, "%s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    int err = vk_domcfg_parse(buf, got, path, out);
    free(buf);
    return err;
}

/* Contract in config.h. */
int vk_domcfg_set(struct vk_domcfg *c, const char *assignment)
{
    char fn[160];
    snprintf(fn, sizeof fn, "override '%.120s'", assignment);
    if (strchr(assignment, '\n') || !strchr(assignment, '='))
        return vk_error(-EINVAL, "%s: expected key=value", fn);
    return parse_into(c, assignment, strlen(assignment), fn, 1);
}

const char *vk_action_name(enum vk_action a)
{
    return a == VK_ACT_RESTART ? "restart" : a == VK_ACT_PRESERVE ? "preserve" : "destroy";
}

int vk_action_parse(const char *s, enum vk_action *a)
{
    if (!strcmp(s, "destroy") || !strcmp(s, "coredump-destroy"))
        *a = VK_ACT_DESTROY;
    else if (!strcmp(s, "restart") || !strcmp(s, "rename-restart") || !strcmp(s, "coredump-restart"))
        *a = VK_ACT_RESTART;
    else if (!strcmp(s, "preserve"))
        *a = VK_ACT_PRESERVE;
    else
        return -EINVAL;
    return 0;
}
