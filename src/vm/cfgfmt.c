/* xl.cfg lexer and parser: text -> settings (cfg_int.h), following
 * libxlu's flex/bison grammar (tools/libs/util/libxlu_cfg_{l,y}):
 *
 *   file:       { assignment? (NEWLINE | ';') } assignment?
 *   assignment: IDENT ('=' | '+=') value
 *   value:      atom | '[' nl* [ value nl* { ',' nl* value nl* } [ ',' nl* ] ] ']'
 *   atom:       STRING | NUMBER
 *
 * IDENT is [a-z][_0-9a-z]*, NUMBER [0-9][0-9a-fx]*, a comment runs from
 * '#' to the end of the line and counts as a newline, blanks are space and
 * tab (and, unlike libxlu, a CR before a newline).  Both quote kinds take
 * libxlu's backslash escapes. */
#include "vm/cfg_int.h"
#include "util/err.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct lexer {
    const char *p, *end, *fname;
    int line, col;
    int bare_ok;
};

static const char python_hint[] =
    "this looks like Python (an xm config): vmkit, like xl, reads only "
    "`key = value` settings, not Python code; run the file through Python and "
    "write the values it computes as plain settings "
    "(https://wiki.xenproject.org/wiki/PythonInXlConfig)";

void vk_cfgval_free(struct vk_cfgval *v)
{
    free(v->s);
    for (unsigned i = 0; i < v->n; i++)
        vk_cfgval_free(&v->it[i]);
    free(v->it);
    memset(v, 0, sizeof *v);
}

static int perr(struct lexer *L, int line, int col, const char *what)
{
    return vk_error(-EINVAL, "%s:%d:%d: %s", L->fname, line, col, what);
}

static int peek(struct lexer *L) { return L->p < L->end ? (unsigned char)*L->p : -1; }
static int peek2(struct lexer *L) { return L->p + 1 < L->end ? (unsigned char)L->p[1] : -1; }

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

/* Blanks, and a CR that ends a line. */
static void skip_blank(struct lexer *L)
{
    for (;;) {
        int c = peek(L);
        if (c == ' ' || c == '\t' || (c == '\r' && peek2(L) == '\n'))
            adv(L);
        else
            return;
    }
}

/* A NEWLINE token (newline or comment to end of line): 1 if one was eaten. */
static int eat_newline(struct lexer *L)
{
    skip_blank(L);
    if (peek(L) == '#') {
        while (peek(L) >= 0 && peek(L) != '\n')
            adv(L);
        if (peek(L) < 0)
            return 1;              /* a comment on the last line */
    }
    if (peek(L) == '\n') {
        adv(L);
        return 1;
    }
    return 0;
}

static void skip_nl(struct lexer *L)
{
    while (eat_newline(L))
        ;
    skip_blank(L);
}

/* Characters that make libxlu suspect Python (its lexer's [+-.():]). */
static int pythonish(int c) { return c >= 0 && strchr("+-.():", c) != NULL; }

/* A quoted string with libxlu's escapes: \" \' \\ \a \b \f \n \r \t \v.
 * libxlu has two more that do not do what they say, so vmkit refuses them
 * rather than guess: \x is always an error in libxlu (its hex escape reads
 * past the first digit and can never succeed), and an octal escape such as
 * \101 is consumed and produces nothing. */
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
        int ecol = L->col;
        adv(L);
        if (c == q)
            break;
        if (c == '\\') {
            int e = peek(L);
            if (e < 0 || e == '\n') {
                free(b);
                return perr(L, line, col, "unterminated string");
            }
            adv(L);
            static const char from[] = "\"'\\abfnrtv", to[] = "\"'\\\a\b\f\n\r\t\v";
            const char *k = strchr(from, e);
            if (k && e) {
                c = to[k - from];
            } else {
                free(b);
                if (e == 'x')
                    return perr(L, L->line, ecol, "\\x escapes are not supported: xl's parser "
                                "rejects every one (write the character itself)");
                if (e >= '0' && e <= '7')
                    return perr(L, L->line, ecol, "octal escapes are not supported: xl's parser "
                                "drops them without a word (write the character itself)");
                return perr(L, L->line, ecol, "invalid character after backslash in quoted string");
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

static int lex_atom(struct lexer *L, struct vk_cfgval *v)
{
    int c = peek(L);
    v->line = L->line;
    v->col = L->col;
    if (c == '"' || c == '\'')
        return lex_string(L, &v->s);
    if (c >= '0' && c <= '9') {
        const char *s = L->p;
        while (peek(L) >= 0 && (isdigit(peek(L)) || (peek(L) >= 'a' && peek(L) <= 'f') ||
                                peek(L) == 'x'))
            adv(L);
        int t = peek(L);
        if (!L->bare_ok || t < 0 || t == ',' || t == ']' || t == ';' || isspace(t) || t == '#') {
            v->num = 1;
            v->s = strndup(s, (size_t)(L->p - s));
            return v->s ? 0 : vk_error(-ENOMEM, "out of memory");
        }
        L->p = s;                 /* an override's bare word such as 1G */
        L->col = v->col;
    }
    if (L->bare_ok && c >= 0 && c != '[' && c != ']' && c != ',' && !isspace(c)) {
        const char *s = L->p;
        while (peek(L) >= 0 && !isspace(peek(L)))
            adv(L);
        v->s = strndup(s, (size_t)(L->p - s));
        return v->s ? 0 : vk_error(-ENOMEM, "out of memory");
    }
    if (pythonish(c) || (c >= 0 && isalpha(c)))
        return perr(L, L->line, L->col, python_hint);
    return perr(L, L->line, L->col, "expected a string, a number or a list");
}

static int lex_value(struct lexer *L, struct vk_cfgval *v, int depth)
{
    if (peek(L) != '[')
        return lex_atom(L, v);
    v->list = 1;
    v->line = L->line;
    v->col = L->col;
    if (depth >= VK_CFG_MAX_DEPTH)
        return perr(L, v->line, v->col, "lists nested too deeply");
    adv(L);
    skip_nl(L);
    for (;;) {
        if (peek(L) == ']') {
            adv(L);
            return 0;
        }
        if (peek(L) < 0)
            return perr(L, v->line, v->col, "unterminated list");
        if (v->n >= VK_CFG_MAX_LIST)
            return perr(L, L->line, L->col, "list too long");
        struct vk_cfgval *ni = realloc(v->it, (v->n + 1) * sizeof *ni);
        if (!ni)
            return vk_error(-ENOMEM, "out of memory");
        v->it = ni;
        memset(&v->it[v->n], 0, sizeof *ni);
        int err = lex_value(L, &v->it[v->n++], depth + 1);
        if (err)
            return err;
        skip_nl(L);
        if (peek(L) == ',') {
            adv(L);
            skip_nl(L);
        } else if (peek(L) != ']') {
            if (peek(L) < 0)
                return perr(L, v->line, v->col, "unterminated list");
            if (pythonish(peek(L)))
                return perr(L, L->line, L->col, python_hint);
            return perr(L, L->line, L->col, "expected ',' or ']' in list");
        }
    }
}

static int is_python_word(const char *k)
{
    static const char *const w[] = { "import", "from", "if", "elif", "else", "for", "while",
                                     "def", "try", "except", "print", "with", "class",
                                     "return", "global", "del", "assert", NULL };
    for (int i = 0; w[i]; i++)
        if (!strcmp(k, w[i]))
            return 1;
    return 0;
}

/* Contract in cfg_int.h. */
int vk_cfg_parse_text(const char *text, size_t len, const char *fname, int bare_ok,
                      vk_cfg_setfn fn, void *ctx)
{
    struct lexer L = { text, text + len, fname, 1, 1, bare_ok };
    char key[64];
    for (;;) {
        skip_nl(&L);
        if (peek(&L) == ';') {
            adv(&L);
            continue;
        }
        int c0 = peek(&L);
        if (c0 < 0)
            return 0;
        struct vk_cfgpos kp = { fname, L.line, L.col };
        if (!(c0 >= 'a' && c0 <= 'z')) {
            if (pythonish(c0) || c0 == '_' || (c0 >= 'A' && c0 <= 'Z'))
                return perr(&L, kp.line, kp.col, c0 >= 'A' && c0 <= 'Z' ?
                            "expected a key (xl keys are lower case: [a-z][a-z0-9_]*)" : python_hint);
            return perr(&L, kp.line, kp.col, "expected a key");
        }
        size_t kl = 0;
        while (peek(&L) >= 0 && ((peek(&L) >= 'a' && peek(&L) <= 'z') || isdigit(peek(&L)) ||
                                 peek(&L) == '_')) {
            if (kl + 1 >= sizeof key)
                return perr(&L, kp.line, kp.col, "key too long");
            key[kl++] = (char)peek(&L);
            adv(&L);
        }
        key[kl] = 0;
        skip_blank(&L);
        int add = 0;
        if (peek(&L) == '+' && peek2(&L) == '=') {
            add = 1;
            adv(&L);
        }
        if (peek(&L) != '=') {
            if (is_python_word(key) || pythonish(peek(&L)) || (peek(&L) >= 0 && isalpha(peek(&L))))
                return perr(&L, kp.line, kp.col, python_hint);
            return perr(&L, L.line, L.col, "expected '=' after key");
        }
        adv(&L);
        skip_blank(&L);
        struct vk_cfgval v = { 0 };
        int err = lex_value(&L, &v, 0);
        if (!err) {
            skip_blank(&L);
            int t = peek(&L);
            if (t >= 0 && t != '\n' && t != ';' && t != '#')
                err = perr(&L, L.line, L.col, pythonish(t) ? python_hint
                                                           : "expected end of line after value");
        }
        if (!err)
            err = fn(ctx, key, add, &v, &kp);
        vk_cfgval_free(&v);
        if (err)
            return err;
    }
}

/* Contract in config.h. */
int vk_domcfg_parse(const char *text, size_t len, const char *filename,
                    struct vk_domcfg *out)
{
    vk_domcfg_init(out);
    const char *fn = filename ? filename : "<config>";
    if (len > VK_CFG_MAX_BYTES)
        return vk_error(-EFBIG, "%s: config is larger than %u bytes", fn, VK_CFG_MAX_BYTES);
    if (memchr(text, 0, len))
        return vk_error(-EINVAL, "%s: NUL byte in config (not a text file?)", fn);
    if (filename && !(out->source = strdup(filename)))
        return vk_error(-ENOMEM, "out of memory");
    int err = vk_cfg_parse_text(text, len, fn, 0, vk_cfg_apply, out);
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
    return vk_cfg_parse_text(assignment, strlen(assignment), fn, 1, vk_cfg_apply, c);
}
