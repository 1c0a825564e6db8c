// What every fuzz target asserts with: a property that does not hold stops the run at once, and
// libFuzzer keeps the input (in every build type: an assert() would vanish under NDEBUG).
#pragma once

namespace brokerkey::fuzz {

inline void check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace brokerkey::fuzz
