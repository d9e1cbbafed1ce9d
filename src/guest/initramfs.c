/* The guest's initramfs: a gzip'd newc cpio written with libarchive, so
 * device nodes (/dev/console) need no root privileges. */
#include "guest/guest.h"

#include "util/err.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int add(struct archive *a, const char *path, const struct vk_cpio_file *f)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return vk_error(-ENOMEM, "out of memory");
    char *content = NULL;
    size_t size = 0;
    int r = 0;
    if ((f->mode & S_IFMT) == S_IFREG) {
        if (f->host) {
            int fd = open(f->host, O_RDONLY | O_CLOEXEC);
            struct stat st;
            if (fd < 0 || fstat(fd, &st) < 0) {
                r = vk_error(-errno, "%s: %s", f->host, strerror(errno));
            } else if (!(content = malloc(st.st_size ? st.st_size : 1))) {
                r = vk_error(-ENOMEM, "%s: out of memory", f->host);
            } else {
                size = st.st_size;
                size_t got = 0;
                while (got < size) {
                    ssize_t n = read(fd, content + got, size - got);
                    if (n <= 0) {
                        r = vk_error(n < 0 ? -errno : -EIO, "%s: short read", f->host);
                        break;
                    }
                    got += n;
                }
            }
            if (fd >= 0)
                close(fd);
        } else {
            size = f->data ? strlen(f->data) : 0;
        }
    }
    if (r == 0) {
        archive_entry_set_pathname(e, path);
        archive_entry_set_mode(e, f->mode);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        archive_entry_set_nlink(e, (f->mode & S_IFMT) == S_IFDIR ? 2 : 1);
        archive_entry_set_mtime(e, 0, 0);
        if ((f->mode & S_IFMT) == S_IFCHR || (f->mode & S_IFMT) == S_IFBLK)
            archive_entry_set_rdev(e, makedev(f->rmajor, f->rminor));
        if ((f->mode & S_IFMT) == S_IFLNK)
            archive_entry_set_symlink(e, f->link);
        archive_entry_set_size(e, size);
        if (archive_write_header(a, e) != ARCHIVE_OK)
            r = vk_error(-EIO, "initramfs %s: %s", path, archive_error_string(a));
        else if (size && archive_write_data(a, content ? content : f->data, size) != (la_ssize_t)size)
            r = vk_error(-EIO, "initramfs %s: %s", path, archive_error_string(a));
    }
    free(content);
    archive_entry_free(e);
    return r;
}

/* Write files to path as a gzip'd newc cpio, replacing it, or appended
 * to what it holds. */
static int write_cpio(const char *path, int append, const struct vk_cpio_file *files, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    struct archive *a = archive_write_new();
    if (!a) {
        close(fd);
        return vk_error(-ENOMEM, "out of memory");
    }
    int r = 0;
    if (archive_write_set_format_cpio_newc(a) != ARCHIVE_OK ||
        archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
        /* no padding to 10 KiB blocks: the kernel reads the stream, and
         * an appended archive should add only what it holds */
        archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
        archive_write_open_fd(a, fd) != ARCHIVE_OK)
        r = vk_error(-EIO, "%s: %s", path, archive_error_string(a));
    for (size_t i = 0; i < n && r == 0; i++)
        r = add(a, files[i].path, &files[i]);
    if (archive_write_close(a) != ARCHIVE_OK && r == 0)
        r = vk_error(-EIO, "%s: %s", path, archive_error_string(a));
    archive_write_free(a);
    if (close(fd) < 0 && r == 0)
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
    return r;
}

int vk_initramfs_write(const char *path, const struct vk_cpio_file *files, size_t n)
{
    return write_cpio(path, 0, files, n);
}

int vk_initramfs_append(const char *path, const struct vk_cpio_file *files, size_t n)
{
    return write_cpio(path, 1, files, n);
}
