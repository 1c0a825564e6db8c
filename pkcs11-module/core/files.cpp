#include "core/files.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/unique_fd.h"

namespace brokerkey {

Secret::Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    value_ = std::move(other.value_);
    other.wipe();
  }
  return *this;
}
Secret::~Secret() { wipe(); }
void Secret::wipe() noexcept {
  // Wipe the whole buffer, including spare capacity that may hold an earlier value.
  value_.resize(value_.capacity());
  OPENSSL_cleanse(value_.data(), value_.size());
  value_.clear();
}

namespace {
std::string errno_text(const fs::path& path) { return path.string() + ": " + std::strerror(errno); }

// Reads a whole file; the stack buffer is wiped, since the file may hold a PIN.
std::string read_all(int fd, const fs::path& path) {
  std::string content;
  content.reserve(4096);
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      OPENSSL_cleanse(buffer, sizeof buffer);
      throw file_error("cannot read " + errno_text(path));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
  }
  OPENSSL_cleanse(buffer, sizeof buffer);
  return content;
}

void write_all(int fd, std::string_view content, const fs::path& path) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw file_error("cannot write " + errno_text(path));
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd) != 0) throw file_error("cannot fsync " + errno_text(path));
}

void fsync_directory(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) throw file_error("cannot fsync directory " + errno_text(dir));
}
}  // namespace

namespace {
void check_trusted(const fs::path& path, const char* what) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw file_error("cannot stat " + errno_text(path));
  if (info.st_uid != ::geteuid() && info.st_uid != 0) {
    throw file_error(std::string(what) + " " + path.string() + " is owned by uid " +
                     std::to_string(info.st_uid) + ", not by this user or root");
  }
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", info.st_mode & 07777);
    throw file_error(std::string(what) + " " + path.string() + " has mode " + mode +
                     ": it must not be writable by group or others");
  }
}
}  // namespace

void check_trusted_file(const fs::path& path) {
  std::error_code ec;
  fs::path real = fs::canonical(path, ec);
  if (ec) throw file_error("cannot resolve " + path.string() + ": " + ec.message());
  check_trusted(real, "file");
  check_trusted(real.parent_path(), "directory");
}

std::string read_text_file(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw file_error("cannot open " + errno_text(path));
  return read_all(fd.get(), path);
}

Secret read_secret_file(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) throw file_error("cannot open PIN file " + errno_text(path));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) throw file_error("cannot stat " + errno_text(path));
  if (!S_ISREG(info.st_mode)) throw file_error("PIN file " + path.string() + " is not a regular file");
  if ((info.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", info.st_mode & 07777);
    throw file_error("PIN file " + path.string() + " has mode " + mode +
                     ": it must not be accessible by group or others (chmod 600)");
  }
  // Only root gets this far with another user's 0600 file; a PIN that user can rewrite is theirs.
  if (info.st_uid != ::geteuid()) {
    throw file_error("PIN file " + path.string() + " is owned by uid " + std::to_string(info.st_uid) +
                     ", not by this user (uid " + std::to_string(::geteuid()) + ")");
  }
  Secret secret(read_all(fd.get(), path));
  std::string_view text = secret.view();
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty()) throw file_error("PIN file " + path.string() + " is empty");
  return Secret(std::string(text));
}

void write_new_file(const fs::path& path, std::string_view content, fs::perms mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                     static_cast<mode_t>(mode)));
  if (!fd) throw file_error("cannot create " + errno_text(path));
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) {
    throw file_error("cannot chmod " + errno_text(path));
  }
  write_all(fd.get(), content, path);
}

void replace_file(const fs::path& name, std::string_view content, fs::perms mode) {
  // A symbolic link (a configuration linked from /etc/brokerkey) keeps pointing at the file it
  // names: that file is the one replaced, in its own directory.
  const fs::path path = fs::is_symlink(name) ? fs::canonical(name) : name;
  fs::path temporary = path;
  temporary += ".tmp." + std::to_string(::getpid());
  fs::remove(temporary);
  try {
    write_new_file(temporary, content, mode);
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
      throw file_error("cannot rename over " + errno_text(path));
    }
  } catch (...) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw;
  }
  fsync_directory(path.has_parent_path() ? path.parent_path() : fs::path("."));
}

void make_private_directory(const fs::path& path) {
  if (::mkdir(path.c_str(), 0700) != 0) throw file_error("cannot create directory " + errno_text(path));
  if (::chmod(path.c_str(), 0700) != 0) throw file_error("cannot chmod " + errno_text(path));
}

}  // namespace brokerkey
