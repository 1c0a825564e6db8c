// File access with the rules brokerkey's state needs: secrets only from private files, whole
// files replaced atomically, and secrets wiped from memory after use.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/unique_fd.h"

namespace brokerkey {

namespace fs = std::filesystem;

// A secret string (PIN): not copyable, wiped when destroyed.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret();

  const std::string& view() const { return value_; }

 private:
  void wipe() noexcept;
  std::string value_;
};

std::string read_text_file(const fs::path& path);

// Reads a secret (PIN) file: opened by open_trusted, and then also owned by this user and with
// no group or world permission bits, as ssh treats a private key file. One trailing newline is
// dropped.
Secret read_secret_file(const fs::path& path);

// --- Trust: files whose content decides what brokerkey does -------------------------------
//
// The rule, checked on the objects actually opened (fstat on descriptors, never by name again):
// - every directory from "/" down to the file is owned by root or this user (euid) and not
//   writable by group or others, except a sticky directory (mode +t, such as /tmp), which passes
//   because others cannot rename or replace an entry there they do not own; the entry on the
//   path inside it must then be owned by root or this user (every directory and file on the
//   path must be anyway, so this adds the check for symlinks);
// - the file itself is a regular file owned by root or this user, not writable by group or others.
// The walk opens each component with openat(..., O_NOFOLLOW) relative to the directory checked
// before it, so no name is looked up twice. Symlinks are resolved by the walk itself, component
// by component: the link (which must satisfy the entry rule of its directory) is read through
// its own descriptor and its target walked on from "/" or from the link's directory, every
// component checked again (at most 40 links; ".." goes up the path walked so far). A relative
// path is taken from the current directory, which is walked from "/" like everything else.
// Errors: file_error (CKR_GENERAL_ERROR) naming the path and the component at fault; a missing
// file is a file_error whose message ends in "No such file or directory".

// A file opened and checked by open_trusted: read it through this descriptor only.
class TrustedFile {
 public:
  TrustedFile(UniqueFd fd, fs::path path, const struct stat& info)
      : fd_(std::move(fd)), path_(std::move(path)), info_(info) {}
  int fd() const { return fd_.get(); }
  const fs::path& path() const { return path_; }
  const struct stat& info() const { return info_; }  // fstat of fd() when it was checked
  // The whole content, read from offset 0 through the descriptor.
  std::string read() const;

 private:
  UniqueFd fd_;
  fs::path path_;
  struct stat info_;
};

enum class TrustedOpen {
  read,    // O_RDONLY; the file must exist
  append,  // O_RDWR | O_APPEND, created with mode 0600 if missing (its directory must be trusted)
};

// Opens `path` once and checks it and every directory above it by the rule above.
TrustedFile open_trusted(const fs::path& path, TrustedOpen how = TrustedOpen::read);
// The same, but nullopt when the file (not a directory above it) does not exist.
std::optional<TrustedFile> open_trusted_if_exists(const fs::path& path);

// Checks the directory `path` and every directory above it by the rule above (symlinks resolved
// as above) and returns an O_PATH descriptor of it: open entries in it with openat on that
// descriptor, so they are reached through the directory that was checked. Throws file_error.
UniqueFd check_trusted_directory(const fs::path& path);

// The rule above for one directory or one file, on the fstat/stat of an object already opened by
// the walk: for a caller that keeps it open and checks again that it still satisfies the rule
// (ChainedLogWriter). Throws file_error naming `shown`, as the walk does.
void check_trusted_directory_info(const struct stat& info, const fs::path& shown);
void check_trusted_file_info(const struct stat& info, const fs::path& shown);

// Opens the file `name` (one component) in `directory`, whose descriptor `dir` came from
// check_trusted_directory(directory): the same rule and result as open_trusted(directory / name,
// how), with the directories walked once for several files in them. A symbolic link there is
// followed by open_trusted, from "/".
TrustedFile open_trusted_in(int dir, const fs::path& directory, const std::string& name,
                            TrustedOpen how = TrustedOpen::read);

// Creates a new file (never replaces one) with exactly `mode`, writes `content`, and fsyncs
// unless `durable` is Durable::no: an output its reader takes at once and that is worth
// nothing after a crash (a drop-in's FILE.sig, which git reads and deletes, as ssh-keygen
// writes it), where the fsync would only add a disk flush to every signature.
enum class Durable { yes, no };
void write_new_file(const fs::path& path, std::string_view content, fs::perms mode, Durable durable = Durable::yes);

// Replaces `path` atomically: writes a temporary file beside it, fsyncs, renames over it,
// fsyncs the directory. A crash leaves the old or the new content, never a mix. Through a
// symbolic link, the file it names is replaced and the link stays.
void replace_file(const fs::path& path, std::string_view content, fs::perms mode);

// Creates a directory with exactly `mode` (not subject to umask); fails if it exists.
void make_private_directory(const fs::path& path);

}  // namespace brokerkey
