// The `openai` executor: one chat completion from an OpenAI-compatible server
// (POST <base_url>/chat/completions, streamed), on libcurl.
//
// Request: the agent's `model`; its `instructions` as the system message; the task input as the
// user message — a string as it is, {"prompt": "…"} its prompt, {"messages": [{role, content}…]}
// those messages, anything else its JSON text. Agent config: `base_url` (default
// https://api.openai.com/v1), `temperature`, `max_tokens`.
// Key: the organization's secret `llm_api_key`; failing that the platform's key
// (ATRIUM_LLM_KEYS "openai"), which is only ever sent to the default base URL, never to a
// base_url an agent chose.
// Output: {"content": "…", "model": "…", "finish_reason": "…", "usage": {…} | null}. Each streamed
// fragment is reported as progress {"step": k, "of": null, "text": fragment}.
//
// Errors: 429, 5xx, timeouts and dropped connections are retried within the run with back-off
// (Retry-After honoured up to a bound), then reported retryable so the task is retried later;
// other answers (401, 400, 404…) fail the task with the server's message. Destinations on
// loopback, private or link-local networks are refused unless allowed (self-hosted models), and
// redirects are not followed. Thread-safe: runs share nothing but the options.
#pragma once

#include <chrono>
#include <string>

#include "tasks/executor.hpp"

namespace atrium::tasks {

struct OpenAiOptions {
  std::string default_base_url = "https://api.openai.com/v1";
  std::string platform_key;             // sent only to default_base_url; empty = none
  bool allow_private_networks = false;  // loopback, private and link-local destinations
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds timeout{300000};         // one request, from connect to last byte
  std::chrono::milliseconds idle_timeout{60000};     // no byte received for this long (±1 s)
  int attempts = 3;                                  // requests per run
  std::chrono::milliseconds retry_delay{500};        // doubles per attempt
  std::chrono::milliseconds max_retry_delay{10000};  // also bounds Retry-After
  std::size_t max_response_bytes = 1 << 20;
};

class OpenAiExecutor final : public Executor {
 public:
  explicit OpenAiExecutor(OpenAiOptions options);

  Result<void> validate(const nlohmann::json& input) const override;
  // base_url (an http(s) URL), temperature (0–2), max_tokens (1–1,000,000); nothing else.
  std::vector<FieldError> validate_config(const nlohmann::json& config) const override;
  Outcome run(Execution& execution) override;

 private:
  OpenAiOptions options_;
};

}  // namespace atrium::tasks
