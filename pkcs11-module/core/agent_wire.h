// The SSH wire encoding the agent protocol is made of (RFC 4251 section 5): byte, uint32,
// boolean and string (uint32 length, then that many bytes). Reading is bounded by the frame it
// reads from: every read past its end throws, so a parser cannot run off a truncated message.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace brokerkey::agent {

// A message that does not have the shape its type requires.
class MalformedMessage : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class WireReader {
 public:
  explicit WireReader(ByteView data) : data_(data) {}

  std::uint8_t byte();
  std::uint32_t u32();
  bool boolean();     // RFC 4251: any non-zero byte is TRUE
  ByteView string();  // the bytes of one string, bounded by what is left
  std::string_view text();  // a string as text (no validation beyond its bounds)
  bool empty() const { return data_.empty(); }
  ByteView rest() const { return data_; }
  // Throws unless every byte has been read: requests carry no trailing data.
  void expect_end(std::string_view what) const;

 private:
  ByteView take(std::size_t count);
  ByteView data_;
};

class WireWriter {
 public:
  WireWriter& byte(std::uint8_t value);
  WireWriter& u32(std::uint32_t value);
  WireWriter& string(ByteView value);
  WireWriter& string(std::string_view value) { return string(as_bytes(value)); }
  WireWriter& raw(ByteView value);
  const Bytes& bytes() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

}  // namespace brokerkey::agent
