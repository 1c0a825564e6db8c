#include "core/files.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

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

void write_all(int fd, std::string_view content, const fs::path& path, Durable durable = Durable::yes) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw file_error("cannot write " + errno_text(path));
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  if (durable == Durable::yes && ::fsync(fd) != 0) throw file_error("cannot fsync " + errno_text(path));
}

void fsync_directory(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) throw file_error("cannot fsync directory " + errno_text(dir));
}
}  // namespace

namespace {

constexpr int kMaxSymlinks = 40;

std::string mode_text(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

bool trusted_owner(uid_t uid) { return uid == 0 || uid == ::geteuid(); }

std::string owner_problem(const std::string& what, const std::string& shown, uid_t uid) {
  return what + " " + shown + " is owned by uid " + std::to_string(uid) +
         ", not by this user (uid " + std::to_string(::geteuid()) + ") or root";
}

// The directory rule: owned by root or this user; writable by group or others only if sticky.
void check_directory(const struct stat& info, const std::string& shown) {
  if (!S_ISDIR(info.st_mode)) throw file_error(shown + " is not a directory");
  if (!trusted_owner(info.st_uid)) throw file_error(owner_problem("directory", shown, info.st_uid));
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (info.st_mode & S_ISVTX) == 0) {
    throw file_error("directory " + shown + " has mode " + mode_text(info.st_mode) +
                     ": it must not be writable by group or others (or be sticky, as /tmp)");
  }
}

void check_file(const struct stat& info, const std::string& shown) {
  if (!S_ISREG(info.st_mode)) throw file_error(shown + " is not a regular file");
  if (!trusted_owner(info.st_uid)) throw file_error(owner_problem("file", shown, info.st_uid));
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    throw file_error("file " + shown + " has mode " + mode_text(info.st_mode) +
                     ": it must not be writable by group or others");
  }
}

std::vector<std::string> components_of(const fs::path& path) {
  std::vector<std::string> parts;
  for (const auto& part : path.relative_path()) {
    std::string name = part.string();
    if (!name.empty() && name != ".") parts.push_back(name);
  }
  return parts;
}

fs::path join(const std::vector<std::string>& parts) {
  fs::path out = "/";
  for (const auto& part : parts) out /= part;
  return out;
}

// Walks from "/" along `pending` (components still to visit; symlink targets are spliced in),
// checking every directory; stops before the last component. The directory reached, its
// components and whether it is sticky are left in the walker.
class Walker {
 public:
  explicit Walker(const fs::path& path) : original_(path.string()) {
    fs::path absolute = path.is_absolute() ? path : fs::current_path() / path;
    pending_ = components_of(absolute);
    std::reverse(pending_.begin(), pending_.end());  // back() is the next component
    restart();
  }

  // Moves to the directory holding the last pending component and returns that component
  // ("" when the path is "/" itself).
  std::string to_last() {
    while (pending_.size() > 1) step();
    if (pending_.empty()) return {};
    std::string last = pending_.back();
    if (last == "..") {
      step();
      return {};
    }
    return last;
  }

  // Follows a symlink found at the last component: `link` is an O_PATH descriptor of it.
  void follow(int link, const struct stat& info, const std::string& name) {
    check_link(info, name);
    std::string target = read_link(link, name);
    pending_.pop_back();
    splice(target);
  }

  int dir() const { return dir_.get(); }
  bool sticky() const { return sticky_; }
  std::string shown(const std::string& name) const { return (join(walked_) / name).string(); }
  const std::string& original() const { return original_; }

 private:
  void restart() {
    walked_.clear();
    dir_ = UniqueFd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir_) throw file_error("cannot open /: " + std::string(std::strerror(errno)));
    check_current();
  }

  void check_current() {
    struct stat info {};
    if (::fstat(dir_.get(), &info) != 0) throw file_error("cannot stat " + join(walked_).string() + ": " + std::strerror(errno));
    check_current(info);
  }
  // `info` is the fstat of dir_ (taken once: the descriptor names one object).
  void check_current(const struct stat& info) {
    check_directory(info, join(walked_).string() + " (on the path to " + original_ + ")");
    sticky_ = (info.st_mode & S_ISVTX) != 0;
  }

  void check_link(const struct stat& info, const std::string& name) {
    if (++links_ > kMaxSymlinks) throw file_error(original_ + ": too many symbolic links");
    // In a sticky directory others may create entries: a link there counts only if it is ours.
    if (sticky_ && !trusted_owner(info.st_uid)) {
      throw file_error(owner_problem("symbolic link", shown(name), info.st_uid) +
                       ", in the sticky directory " + join(walked_).string());
    }
  }

  std::string read_link(int link, const std::string& name) {
    char buffer[4096];
    ssize_t n = ::readlinkat(link, "", buffer, sizeof buffer);
    if (n < 0 || static_cast<std::size_t>(n) >= sizeof buffer) {
      throw file_error("cannot read symbolic link " + shown(name) + ": " + std::strerror(errno));
    }
    return std::string(buffer, static_cast<std::size_t>(n));
  }

  void splice(const std::string& target) {
    fs::path path(target);
    std::vector<std::string> parts = components_of(path);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) pending_.push_back(*it);
    if (path.is_absolute()) restart();
  }

  void step() {
    std::string name = pending_.back();
    if (name == "..") {
      pending_.pop_back();
      if (walked_.empty()) return;
      std::vector<std::string> up(walked_.begin(), walked_.end() - 1);
      // Walk down again from "/": every directory checked anew.
      restart();
      for (auto& part : up) descend(part);
      return;
    }
    UniqueFd next(::openat(dir_.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!next) {
      throw file_error("cannot open " + shown(name) + " (on the path to " + original_ + "): " + std::strerror(errno));
    }
    struct stat info {};
    if (::fstat(next.get(), &info) != 0) throw file_error("cannot stat " + shown(name) + ": " + std::strerror(errno));
    if (S_ISLNK(info.st_mode)) {
      follow(next.get(), info, name);
      return;
    }
    pending_.pop_back();
    dir_ = std::move(next);
    walked_.push_back(name);
    check_current(info);
  }

  void descend(const std::string& name) {
    UniqueFd next(::openat(dir_.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
    if (!next) throw file_error("cannot open " + shown(name) + ": " + std::strerror(errno));
    dir_ = std::move(next);
    walked_.push_back(name);
    check_current();
  }

  std::string original_;
  std::vector<std::string> pending_;
  std::vector<std::string> walked_;
  UniqueFd dir_;
  bool sticky_ = false;
  int links_ = 0;
};

struct Opened {
  UniqueFd fd;
  struct stat info;
};

// Opens the last component of the walk; nullopt if it does not exist and `missing_ok`.
std::optional<Opened> open_last(const fs::path& path, TrustedOpen how, bool missing_ok) {
  Walker walker(path);
  for (;;) {
    std::string name = walker.to_last();
    if (name.empty()) throw file_error(path.string() + " is a directory, not a file");
    int flags = O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
                (how == TrustedOpen::read ? O_RDONLY : O_RDWR | O_APPEND | O_CREAT);
    UniqueFd fd(::openat(walker.dir(), name.c_str(), flags, 0600));
    if (!fd && errno == ELOOP) {
      UniqueFd link(::openat(walker.dir(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      struct stat info {};
      if (link && ::fstat(link.get(), &info) == 0 && S_ISLNK(info.st_mode)) {
        walker.follow(link.get(), info, name);
        continue;
      }
      errno = ELOOP;
    }
    if (!fd) {
      if (errno == ENOENT && missing_ok) return std::nullopt;
      throw file_error("cannot open " + walker.shown(name) +
                       (walker.shown(name) == path.string() ? "" : " (for " + path.string() + ")") +
                       ": " + std::strerror(errno));
    }
    Opened opened{std::move(fd), {}};
    if (::fstat(opened.fd.get(), &opened.info) != 0) throw file_error("cannot stat " + errno_text(path));
    check_file(opened.info, walker.shown(name));
    // Regular file: blocking reads from here on.
    ::fcntl(opened.fd.get(), F_SETFL, how == TrustedOpen::append ? O_APPEND : 0);
    return opened;
  }
}

}  // namespace

void check_trusted_directory_info(const struct stat& info, const fs::path& shown) {
  check_directory(info, shown.string());
}
void check_trusted_file_info(const struct stat& info, const fs::path& shown) { check_file(info, shown.string()); }

std::string TrustedFile::read() const {
  std::string content;
  char buffer[65536];
  off_t offset = 0;
  for (;;) {
    ssize_t n = ::pread(fd_.get(), buffer, sizeof buffer, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      OPENSSL_cleanse(buffer, sizeof buffer);
      throw file_error("cannot read " + errno_text(path_));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
    offset += n;
  }
  OPENSSL_cleanse(buffer, sizeof buffer);
  return content;
}

TrustedFile open_trusted(const fs::path& path, TrustedOpen how) {
  auto opened = open_last(path, how, false);
  return TrustedFile(std::move(opened->fd), path, opened->info);
}

TrustedFile open_trusted_in(int dir, const fs::path& directory, const std::string& name, TrustedOpen how) {
  fs::path path = directory / name;
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    throw file_error(path.string() + " is not a file name in " + directory.string());
  }
  int flags = O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (how == TrustedOpen::read ? O_RDONLY : O_RDWR | O_APPEND | O_CREAT);
  UniqueFd fd(::openat(dir, name.c_str(), flags, 0600));
  if (!fd && errno == ELOOP) return open_trusted(path, how);  // a link: walked from "/" as ever
  if (!fd) throw file_error("cannot open " + errno_text(path));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) throw file_error("cannot stat " + errno_text(path));
  check_file(info, path.string());
  ::fcntl(fd.get(), F_SETFL, how == TrustedOpen::append ? O_APPEND : 0);
  return TrustedFile(std::move(fd), path, info);
}

std::optional<TrustedFile> open_trusted_if_exists(const fs::path& path) {
  auto opened = open_last(path, TrustedOpen::read, true);
  if (!opened) return std::nullopt;
  return TrustedFile(std::move(opened->fd), path, opened->info);
}

UniqueFd check_trusted_directory(const fs::path& path) {
  Walker walker(path);
  std::string name = walker.to_last();
  for (;;) {
    if (name.empty()) return UniqueFd(::fcntl(walker.dir(), F_DUPFD_CLOEXEC, 0));
    UniqueFd next(::openat(walker.dir(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!next) throw file_error("cannot open directory " + walker.shown(name) + ": " + std::strerror(errno));
    struct stat info {};
    if (::fstat(next.get(), &info) != 0) throw file_error("cannot stat " + walker.shown(name));
    if (S_ISLNK(info.st_mode)) {
      walker.follow(next.get(), info, name);
      name = walker.to_last();
      continue;
    }
    check_directory(info, walker.shown(name));
    return next;
  }
}

std::string read_text_file(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw file_error("cannot open " + errno_text(path));
  return read_all(fd.get(), path);
}

Secret read_secret_file(const fs::path& path) {
  TrustedFile file = [&] {
    try {
      return open_trusted(path);
    } catch (const Error& e) {
      throw file_error(std::string("PIN file: ") + e.what());
    }
  }();
  const struct stat& info = file.info();
  if ((info.st_mode & 077) != 0) {
    throw file_error("PIN file " + path.string() + " has mode " + mode_text(info.st_mode) +
                     ": it must not be accessible by group or others (chmod 600)");
  }
  // Only root gets this far with another user's 0600 file; a PIN that user can rewrite is theirs.
  if (info.st_uid != ::geteuid()) {
    throw file_error("PIN file " + path.string() + " is owned by uid " + std::to_string(info.st_uid) +
                     ", not by this user (uid " + std::to_string(::geteuid()) + ")");
  }
  Secret secret(file.read());
  std::string_view text = secret.view();
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty()) throw file_error("PIN file " + path.string() + " is empty");
  return Secret(std::string(text));
}

void write_new_file(const fs::path& path, std::string_view content, fs::perms mode, Durable durable) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                     static_cast<mode_t>(mode)));
  if (!fd) throw file_error("cannot create " + errno_text(path));
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) {
    throw file_error("cannot chmod " + errno_text(path));
  }
  write_all(fd.get(), content, path, durable);
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
