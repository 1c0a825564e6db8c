// File access with the rules brokerkey's state needs: secrets only from private files, whole
// files replaced atomically, and secrets wiped from memory after use.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

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

// Reads a secret (PIN) file: a regular file, not a symlink, with no group or world permission
// bits, as ssh treats a private key file. One trailing newline is dropped.
Secret read_secret_file(const fs::path& path);

// Refuses (file_error) a file that someone other than this user or root could have written:
// the file, or the directory it really lives in (symlinks resolved), owned by another user or
// writable by group or others. The configuration names the module every client loads, and the
// ledger decides which key signs: neither may come from a place others can change.
void check_trusted_file(const fs::path& path);

// Creates a new file (never replaces one) with exactly `mode`, writes `content`, fsyncs.
void write_new_file(const fs::path& path, std::string_view content, fs::perms mode);

// Replaces `path` atomically: writes a temporary file beside it, fsyncs, renames over it,
// fsyncs the directory. A crash leaves the old or the new content, never a mix. Through a
// symbolic link, the file it names is replaced and the link stays.
void replace_file(const fs::path& path, std::string_view content, fs::perms mode);

// Creates a directory with exactly `mode` (not subject to umask); fails if it exists.
void make_private_directory(const fs::path& path);

}  // namespace brokerkey
