#include "db/database.hpp"

#include <charconv>

#include "platform/log.hpp"

namespace atrium::db {

std::string Row::text(std::size_t i) const { return optional_text(i).value_or(std::string()); }

std::optional<std::string> Row::optional_text(std::size_t i) const {
  return std::visit(
      [](const auto& v) -> std::optional<std::string> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>)
          return std::nullopt;
        else if constexpr (std::is_same_v<T, std::string>)
          return v;
        else if constexpr (std::is_same_v<T, bool>)
          return std::string(v ? "true" : "false");
        else
          return std::to_string(v);
      },
      cells_.at(i).variant());
}

std::int64_t Row::integer(std::size_t i) const {
  return std::visit(
      [](const auto& v) -> std::int64_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>)
          return 0;
        else if constexpr (std::is_same_v<T, std::string>) {
          std::int64_t out = 0;
          std::from_chars(v.data(), v.data() + v.size(), out);
          return out;
        } else
          return static_cast<std::int64_t>(v);
      },
      cells_.at(i).variant());
}

double Row::real(std::size_t i) const {
  return std::visit(
      [](const auto& v) -> double {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>)
          return 0;
        else if constexpr (std::is_same_v<T, std::string>)
          return std::strtod(v.c_str(), nullptr);
        else
          return static_cast<double>(v);
      },
      cells_.at(i).variant());
}

bool Row::boolean(std::size_t i) const {
  return std::visit(
      [](const auto& v) -> bool {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>)
          return false;
        else if constexpr (std::is_same_v<T, std::string>)
          return v == "t" || v == "true" || v == "1";
        else
          return v != 0;
      },
      cells_.at(i).variant());
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
  return std::optional<Row>(std::move(rows->front()));
}

}  // namespace atrium::db
