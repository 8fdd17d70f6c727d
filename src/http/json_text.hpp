// JSON text written directly into a string, for the answers built on every request of a hot
// route (a page of a list): no tree of nlohmann::json values to build, walk and free.
//
// The bytes are those Response::json writes for the same value (compact, UTF-8 as is, control
// characters escaped as nlohmann does), provided objects write their keys in nlohmann's order
// (sorted by bytes). Not thread-safe; one writer per answer.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atrium::http {

class JsonText {
 public:
  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  // The next member's key (inside an object); `k` must need no escaping (a literal).
  void key(std::string_view k);

  void string(std::string_view s);
  void string_or_null(const std::optional<std::string_view>& s);
  void integer(std::int64_t v);
  void null();
  // Any value through nlohmann (the rare or irregular ones: a configuration object).
  void value(const nlohmann::json& v);
  // A JSON object stored as text (a column nlohmann::json::dump wrote), as nlohmann renders it
  // once parsed — its member order and number format, not the database's (PostgreSQL's jsonb
  // reorders members). `{}`, the common case, needs no parser; stored text that is not an
  // object is written `{}`.
  void object_text(std::string_view stored);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  // A value is about to be written: a comma first unless it opens its container or follows a key.
  void separate();

  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
};

}  // namespace atrium::http
