#include "db/database.hpp"

#include <charconv>
#include <cstdlib>
#include <iterator>
#include <stdexcept>

#include "platform/log.hpp"

namespace atrium::db {
namespace {

// Appends the shortest text of `v` (an integer, or a double that reads back the same) to `out`;
// returns its length.
template <class T>
std::size_t append_number(std::string& out, T v) {
  char digits[32];
  const auto end = std::to_chars(std::begin(digits), std::end(digits), v).ptr;
  const auto size = static_cast<std::size_t>(end - digits);
  out.append(digits, size);
  return size;
}

}  // namespace

ResultSet::ResultSet(std::size_t columns, std::size_t rows_hint, std::shared_ptr<const void> owner)
    : columns_(columns), owner_(std::move(owner)) {
  cells_.reserve(columns * rows_hint);
}

void ResultSet::add_text_ref(std::string_view v) {
  cells_.push_back(Cell{.kind = Kind::kText, .data = v.data(), .size = v.size()});
}

void ResultSet::add_text_copy(std::string_view v) {
  cells_.push_back(Cell{.kind = Kind::kText,
                        .copied = true,
                        .number = static_cast<std::int64_t>(buffer_.size()),
                        .size = v.size()});
  buffer_.append(v);
}

void ResultSet::add_integer(std::int64_t v) {
  const auto offset = static_cast<std::int64_t>(buffer_.size());
  const auto size = append_number(buffer_, v);
  cells_.push_back(
      Cell{.kind = Kind::kInteger, .copied = true, .number = offset, .integer = v, .size = size});
}

void ResultSet::add_real(double v) {
  const auto offset = static_cast<std::int64_t>(buffer_.size());
  const auto size = append_number(buffer_, v);
  cells_.push_back(
      Cell{.kind = Kind::kReal, .copied = true, .number = offset, .real = v, .size = size});
}

void ResultSet::finish() {
  // Offsets until now: the buffer moves while it grows.
  for (auto& c : cells_) {
    if (!c.copied) continue;
    c.data = buffer_.data() + c.number;
    c.copied = false;
  }
}

const ResultSet::Cell& ResultSet::cell(std::size_t row, std::size_t column) const {
  if (column >= columns_ || row >= rows()) throw std::out_of_range("no such result cell");
  return cells_[row * columns_ + column];
}

const ResultSet::Cell& Row::cell(std::size_t i) const {
  if (!set_) throw std::out_of_range("no such result row");
  return set_->cell(index_, i);
}

std::string_view Row::view(std::size_t i) const {
  const auto& c = cell(i);
  switch (c.kind) {
    case ResultSet::Kind::kNull:
      return {};
    case ResultSet::Kind::kBool:
      return c.integer != 0 ? "true" : "false";
    default:
      return {c.data, c.size};
  }
}

std::optional<std::string_view> Row::optional_view(std::size_t i) const {
  if (is_null(i)) return std::nullopt;
  return view(i);
}

std::optional<std::string> Row::optional_text(std::size_t i) const {
  if (is_null(i)) return std::nullopt;
  return std::string(view(i));
}

std::int64_t Row::integer(std::size_t i) const {
  const auto& c = cell(i);
  switch (c.kind) {
    case ResultSet::Kind::kNull:
      return 0;
    case ResultSet::Kind::kBool:
    case ResultSet::Kind::kInteger:
      return c.integer;
    case ResultSet::Kind::kReal:
      return static_cast<std::int64_t>(c.real);
    case ResultSet::Kind::kText:
      break;
  }
  std::int64_t out = 0;
  std::from_chars(c.data, c.data + c.size, out);
  return out;
}

double Row::real(std::size_t i) const {
  const auto& c = cell(i);
  switch (c.kind) {
    case ResultSet::Kind::kNull:
      return 0;
    case ResultSet::Kind::kBool:
    case ResultSet::Kind::kInteger:
      return static_cast<double>(c.integer);
    case ResultSet::Kind::kReal:
      return c.real;
    case ResultSet::Kind::kText:
      break;
  }
  return std::strtod(std::string(c.data, c.size).c_str(), nullptr);
}

bool Row::boolean(std::size_t i) const {
  const auto& c = cell(i);
  switch (c.kind) {
    case ResultSet::Kind::kNull:
      return false;
    case ResultSet::Kind::kBool:
    case ResultSet::Kind::kInteger:
      return c.integer != 0;
    case ResultSet::Kind::kReal:
      return c.real != 0;
    case ResultSet::Kind::kText:
      break;
  }
  const std::string_view v(c.data, c.size);
  return v == "t" || v == "true" || v == "1";
}

Result<void> Database::admit(const TxOptions& options) {
  if (options.cross_tenant_read.empty()) return {};
  if (!options.read_only) {
    log::error("cross-tenant access refused: the transaction is not read-only",
               {{"purpose", options.cross_tenant_read}});
    return fail(Error::internal());
  }
  // A person's read is the audit trail (info); the system's own sweeps would flood it (debug).
  nlohmann::json fields = {{"purpose", options.cross_tenant_read},
                           {"user", options.user.value_or("")}};
  if (options.user)
    log::info("cross-tenant read", std::move(fields));
  else
    log::debug("cross-tenant read", std::move(fields));
  return {};
}

Result<std::optional<Row>> Tx::query_one(std::string_view sql, Params params) {
  auto rows = query(sql, params);
  if (!rows) return fail(rows.error());
  if (rows->empty()) return std::optional<Row>();
  return std::optional<Row>(rows->front());
}

}  // namespace atrium::db
