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

// Creates a new file (never replaces one) with exactly `mode`, writes `content`, fsyncs.
void write_new_file(const fs::path& path, std::string_view content, fs::perms mode);

// Replaces `path` atomically: writes a temporary file beside it, fsyncs, renames over it,
// fsyncs the directory. A crash leaves the old or the new content, never a mix.
void replace_file(const fs::path& path, std::string_view content, fs::perms mode);

// Creates a directory with exactly `mode` (not subject to umask); fails if it exists.
void make_private_directory(const fs::path& path);

}  // namespace brokerkey
