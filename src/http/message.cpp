#include "http/message.hpp"

#include <strings.h>

#include <algorithm>
#include <stdexcept>

namespace atrium::http {

Method parse_method(std::string_view m) {
  if (m == "GET") return Method::kGet;
  if (m == "POST") return Method::kPost;
  if (m == "PUT") return Method::kPut;
  if (m == "PATCH") return Method::kPatch;
  if (m == "DELETE") return Method::kDelete;
  if (m == "HEAD") return Method::kHead;
  if (m == "OPTIONS") return Method::kOptions;
  return Method::kOther;
}

std::string_view method_name(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kPatch:
      return "PATCH";
    case Method::kDelete:
      return "DELETE";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      return "OTHER";
  }
  return "OTHER";
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

HeaderBlock::HeaderBlock(std::vector<std::pair<std::string, std::string>> fields)
    : fields_(std::move(fields)) {
  const auto has_line_break = [](std::string_view text) {
    return text.find_first_of("\r\n") != std::string_view::npos;
  };
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    const auto& [name, value] = fields_[i];
    if (name.empty() || has_line_break(name) || has_line_break(value))
      throw std::invalid_argument("malformed header field: " + name);
    if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
        iequals(name, "Connection"))
      throw std::invalid_argument("a framing field cannot be constant: " + name);
    for (std::size_t j = 0; j < i; ++j)
      if (iequals(fields_[j].first, name)) throw std::invalid_argument("duplicate field: " + name);
    wire_ += name;
    wire_ += ": ";
    wire_ += value;
    wire_ += "\r\n";
  }
}

std::optional<std::string_view> HeaderBlock::get(std::string_view name) const {
  for (const auto& [k, v] : fields_)
    if (iequals(k, name)) return std::string_view(v);
  return std::nullopt;
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [k, v] : fields_)
    if (iequals(k, name)) return std::string_view(v);
  if (block_) return block_->get(name);
  return std::nullopt;
}

void Headers::set(std::string_view name, std::string value) {
  if (block_ && block_->get(name)) detach_block();
  auto it = std::find_if(fields_.begin(), fields_.end(),
                         [&](const auto& f) { return iequals(f.first, name); });
  if (it == fields_.end()) {
    add(std::string(name), std::move(value));
    return;
  }
  it->second = std::move(value);
  fields_.erase(std::remove_if(std::next(it), fields_.end(),
                               [&](const auto& f) { return iequals(f.first, name); }),
                fields_.end());
}

void Headers::add(std::string name, std::string value) {
  if (block_ && block_->get(name)) detach_block();
  if (fields_.empty()) fields_.reserve(8);  // an answer sets a few fields; grow once
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::set_block(const HeaderBlock& block) {
  if (block_) detach_block();
  std::erase_if(fields_, [&](const Field& f) { return block.get(f.first).has_value(); });
  block_ = &block;
}

void Headers::detach_block() {
  const HeaderBlock* block = block_;
  block_ = nullptr;
  for (const auto& f : block->fields()) fields_.push_back(f);
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return {};
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    if (!key || *key != name) continue;
    if (eq == std::string_view::npos) return std::string();
    return percent_decode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

Response Response::json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.headers.set("Content-Type", "application/json");
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::no_content() {
  Response r;
  r.status = 204;
  return r;
}

Response problem(const Error& error, std::string_view request_id) {
  nlohmann::json body = {
      {"type", "about:blank"},
      {"title", title(error.code)},
      {"status", http_status(error.code)},
      {"code", code_name(error.code)},
      {"detail", error.detail.empty() ? std::string(title(error.code)) : error.detail},
      {"request_id", request_id},
  };
  if (!error.fields.empty()) {
    auto& list = body["errors"] = nlohmann::json::array();
    for (const auto& f : error.fields) list.push_back({{"field", f.field}, {"message", f.message}});
  }
  Response r = Response::json(http_status(error.code), body);
  r.headers.set("Content-Type", "application/problem+json");
  if (error.retry_after_seconds > 0)
    r.headers.set("Retry-After", std::to_string(error.retry_after_seconds));
  return r;
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex(in[i + 1]);
      int lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      if (c == '\0') return std::nullopt;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace atrium::http
