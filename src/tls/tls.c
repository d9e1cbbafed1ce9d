/* The host CA: paths, the lock, `tls init` (contracts in tls.h). */
#include "tls/tls.h"
#include "tls/tls_int.h"

#include "util/dirs.h"
#include "util/err.h"
#include "util/str.h"
#include "vm/store.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Contract in tls.h. */
int vk_tls_dir(char *buf, size_t len)
{
    char base[4000];
    int r = vk_store_dir(base, sizeof base);
    return r ? r : vk_pathf(buf, len, "%s/tls", base);
}

/* Contract in tls.h. */
int vk_tls_path(const char *file, char *buf, size_t len)
{
    char dir[4000];
    int r = vk_tls_dir(dir, sizeof dir);
    return r ? r : vk_pathf(buf, len, "%s/%s", dir, file);
}

/* Contract in tls.h. */
int vk_tls_qemu_dir(char *buf, size_t len)
{
    static const char *const links[][2] = {
        { "ca-cert.pem", "../" VK_TLS_CA_CRT }, { "server-cert.pem", "../" VK_TLS_SERVER_CRT },
        { "server-key.pem", "../" VK_TLS_SERVER_KEY }, { "ca-crl.pem", "../" VK_TLS_CRL },
    };
    char ca[4200];
    int r = vk_tls_path(VK_TLS_CA_CRT, ca, sizeof ca);
    if (r == 0 && access(ca, F_OK) < 0)
        return vk_error(-ENOENT, "%s: no CA: run vmkit tls init", ca);
    if (r || (r = vk_tls_path(VK_TLS_QEMU, buf, len)) < 0)
        return r;
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return vk_error(-errno, "%s: %s", buf, strerror(errno));
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        char p[4300];
        if ((r = vk_pathf(p, sizeof p, "%s/%s", buf, links[i][0])) < 0)
            return r;
        /* a link another vmkit made at the same moment is as good */
        if (symlink(links[i][1], p) < 0 && errno != EEXIST)
            return vk_error(-errno, "%s: %s", p, strerror(errno));
    }
    return 0;
}

/* Contract in tls.h. */
bool vk_tls_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || name[0] == '.')
        return false;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Contract in tls.h. */
int vk_tls_client_path(const char *name, const char *ext, char *buf, size_t len)
{
    char dir[4000];
    if (!vk_tls_name_valid(name))
        return vk_error(-EINVAL, "'%s' is not a valid client name (1 to 64 of A-Z a-z 0-9 . _ -, "
                        "not starting with '.')", name);
    int r = vk_tls_dir(dir, sizeof dir);
    return r ? r : vk_pathf(buf, len, "%s/" VK_TLS_CLIENTS "/%s.%s", dir, name, ext);
}

/* Contract in tls_int.h. */
int tls_lock(const char *dir)
{
    char path[4100];
    int r = vk_pathf(path, sizeof path, "%s/.lock", dir);
    if (r)
        return r;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            r = vk_error(-errno, "%s: cannot lock: %s", path, strerror(errno));
            close(fd);
            return r;
        }
    }
    return fd;
}

/* Contract in tls_int.h. */
int tls_load_ca(X509 **ca, EVP_PKEY **key)
{
    char crt[4100], kp[4100];
    int r;
    if ((r = vk_tls_path(VK_TLS_CA_CRT, crt, sizeof crt)) ||
        (r = vk_tls_path(VK_TLS_CA_KEY, kp, sizeof kp)))
        return r;
    if (access(crt, F_OK) < 0 && errno == ENOENT)
        return vk_error(-ENOENT, "%s: no CA yet: run 'vmkit tls init'", crt);
    if ((r = tls_load_cert(crt, ca)))
        return r;
    if (!key)
        return 0;
    if ((r = tls_load_key(kp, key))) {
        X509_free(*ca);
        return r;
    }
    if (X509_check_private_key(*ca, *key) != 1) {
        X509_free(*ca);
        EVP_PKEY_free(*key);
        return tls_ossl_error(-EINVAL, kp, "not the key of " VK_TLS_CA_CRT);
    }
    return 0;
}

/* Contract in tls_int.h. */
int tls_load_ca_crl(X509 *ca, X509_CRL **out)
{
    char path[4100];
    int r = vk_tls_path(VK_TLS_CRL, path, sizeof path);
    if (r || (r = tls_load_crl(path, out)))
        return r;
    if (X509_CRL_verify(*out, X509_get0_pubkey(ca)) != 1) {
        X509_CRL_free(*out);
        return tls_ossl_error(-EINVAL, path, "not signed by this host's CA (damaged?)");
    }
    return 0;
}

/* The TLS directory, created 0700; an existing one must be ours, and is
 * made 0700 (it holds the keys). */
static int make_dir(char *dir, size_t len)
{
    struct stat st;
    int r = vk_tls_dir(dir, len);
    if (r || (r = vk_mkdirs(dir, 0700)))
        return r;
    if (lstat(dir, &st) < 0)
        return vk_error(-errno, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        return vk_error(-EPERM, "%s: not a directory of this user", dir);
    if ((st.st_mode & 0777) != 0700 && chmod(dir, 0700) < 0)
        return vk_error(-errno, "%s: %s", dir, strerror(errno));
    return 0;
}

/* The host name, when it can stand in a subjectAltName list as is. */
static const char *host_name(char *buf, size_t len)
{
    if (gethostname(buf, len) < 0 || !buf[0] || !strcmp(buf, "localhost"))
        return NULL;
    buf[len - 1] = '\0';
    size_t n = strlen(buf);
    return strspn(buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-") == n
               ? buf : NULL;
}

/* With --force: the clients of the old CA are useless with the new one,
 * but their keys are the user's: moved aside, never deleted. */
static int retire_clients(const char *dir)
{
    char from[4100], to[4200], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    int r = vk_pathf(from, sizeof from, "%s/" VK_TLS_CLIENTS, dir);
    if (r || access(from, F_OK) < 0)
        return r;
    strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", gmtime_r(&now, &tm));
    if ((r = vk_pathf(to, sizeof to, "%s.old-%s", from, stamp)))
        return r;
    if (rename(from, to) < 0)
        return vk_error(-errno, "%s: %s", to, strerror(errno));
    return 0;
}

static int write_all(const char *dir, EVP_PKEY *cakey, X509 *ca, EVP_PKEY *skey, X509 *srv,
                     X509_CRL *crl)
{
    char p[5][4100];
    const char *names[5] = { VK_TLS_SERVER_KEY, VK_TLS_SERVER_CRT, VK_TLS_CRL, VK_TLS_CA_KEY,
                             VK_TLS_CA_CRT };
    int r = 0;
    for (int i = 0; i < 5 && !r; i++)
        r = vk_pathf(p[i], sizeof p[i], "%s/%s", dir, names[i]);
    /* ca.crt last: until it is there, no CA exists and init may run again */
    if (r || (r = tls_save(p[0], skey, NULL, NULL, true)) ||
        (r = tls_save(p[1], NULL, srv, NULL, true)) ||
        (r = tls_save(p[2], NULL, NULL, crl, true)) ||
        (r = tls_save(p[3], cakey, NULL, NULL, true)))
        return r;
    return tls_save(p[4], NULL, ca, NULL, true);
}

static int init_locked(const char *dir, const struct vk_tls_init_opts *o)
{
    char crt[4100], host[256], cn[320], san[400];
    const char *h = host_name(host, sizeof host);
    int days = o->days ? o->days : 3650, r;
    if ((r = vk_pathf(crt, sizeof crt, "%s/" VK_TLS_CA_CRT, dir)))
        return r;
    if (!o->force && access(crt, F_OK) == 0)
        return vk_error(-EEXIST, "%s: a CA already exists (--force replaces it)", crt);
    snprintf(cn, sizeof cn, "vmkit CA %s", h ? h : "localhost");
    snprintf(san, sizeof san, "DNS:localhost,%s%s%sIP:127.0.0.1,IP:::1", h ? "DNS:" : "",
             h ? h : "", h ? "," : "");
    const struct tls_ext ca_ext[] = {
        { NID_basic_constraints, "critical,CA:TRUE" },
        { NID_key_usage, "critical,keyCertSign,cRLSign" },
        { NID_subject_key_identifier, "hash" },
        { NID_authority_key_identifier, "keyid:always" },
        { 0, NULL },
    };
    const struct tls_ext srv_ext[] = {
        { NID_basic_constraints, "critical,CA:FALSE" },
        { NID_key_usage, "critical,digitalSignature" },
        { NID_ext_key_usage, "serverAuth" },
        { NID_subject_alt_name, san },
        { NID_subject_key_identifier, "hash" },
        { NID_authority_key_identifier, "keyid:always" },
        { 0, NULL },
    };
    EVP_PKEY *cakey = NULL, *skey = NULL;
    X509 *ca = NULL, *srv = NULL;
    X509_CRL *crl = NULL;
    if (!(r = tls_new_key(&cakey)) &&
        !(r = tls_make_cert(cakey, o->cn ? o->cn : cn, days, NULL, NULL, ca_ext, &ca)) &&
        !(r = tls_new_key(&skey)) &&
        !(r = tls_make_cert(skey, h ? h : "localhost", days, ca, cakey, srv_ext, &srv))) {
        crl = X509_CRL_new();
        r = crl ? tls_sign_crl(crl, ca, cakey) : vk_error(-ENOMEM, "out of memory");
    }
    if (!r && o->force)
        r = retire_clients(dir);
    if (!r)
        r = write_all(dir, cakey, ca, skey, srv, crl);
    X509_CRL_free(crl);
    X509_free(srv);
    X509_free(ca);
    EVP_PKEY_free(skey);
    EVP_PKEY_free(cakey);
    return r;
}

/* Contract in tls.h. */
int vk_tls_init(const struct vk_tls_init_opts *o)
{
    char dir[4000];
    if (o->cn && !*o->cn)
        return vk_error(-EINVAL, "the CA's common name is empty");
    if (o->days < 0)
        return vk_error(-EINVAL, "%d days: not a lifetime", o->days);
    int r = make_dir(dir, sizeof dir);
    if (r)
        return r;
    int lock = tls_lock(dir);
    if (lock < 0)
        return lock;
    r = init_locked(dir, o);
    close(lock);
    return r;
}
