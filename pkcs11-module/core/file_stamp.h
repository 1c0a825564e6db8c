// What identifies one version of a file without reading it: a changed ledger is noticed by a
// changed stamp, so the module and the agent refold it only when it changed.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>

namespace brokerkey {

struct FileStamp {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = -1;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// The stamp of `path`; a missing file has the default stamp.
inline FileStamp stamp_of(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {};
  return {info.st_dev, info.st_ino, info.st_size,
          std::int64_t{info.st_mtim.tv_sec} * 1'000'000'000 + info.st_mtim.tv_nsec};
}

}  // namespace brokerkey
