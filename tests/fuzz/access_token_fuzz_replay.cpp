// Drives the access-token fuzz target without libFuzzer: seed inputs, then deterministic random
// mutations of them (byte edits, JSON-ish insertions, deletions, splices). Any disagreement
// aborts with the token. `access_token_fuzz_replay [iterations] [seed]`.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::string> seeds() {
  const std::string header = R"({"alg":"HS256","kid":"k1","typ":"JWT"})";
  const std::string payload =
      R"({"iss":"atrium","aud":"atrium","sub":"u1","email":"a@b.co","org_id":"o1",)"
      R"("permissions":["org:read","agents:*"],"iat":1800000000,"exp":1800003600,)"
      R"("jti":"01a2b3c4-d5e6-7f00-8a00-000000000001","sid":"s1"})";
  std::vector<std::string> out = {
      std::string("\0", 1) + header + "\n" + payload,
      std::string("\0", 1) + R"({"alg":"HS256","kid":"k1"})" + "\n" +
          R"({"iss":"atrium","aud":["x","atrium"],"sub":"u","email":"","org_id":null,"permissions":[],)"
          R"("iat":1800000000,"exp":1800000001,"nbf":1799999999,"jti":"01a2b3c4-d5e6-7f00-b000-000000000002","sid":"s"})",
      std::string("\0", 1) + R"({"alg":"none","kid":"k1"})" + "\n" + payload,
      std::string("\0", 1) + R"({"alg":"HS256","kid":"k1","crit":["x"]})" + "\n" + payload,
      "\x01eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "\x01not.a.token",
  };
  return out;
}

const std::string kAlphabet = std::string("{}[]\":,0123456789.-+eE \\/u\"abcdefnrtlsux") +
                              std::string("\0\x7f\xc3\xa9\xed\xa0\xff\xef\xbb\xbf", 10);

std::string mutate(std::string s, const std::vector<std::string>& pool, std::mt19937& rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const std::size_t pos = s.size() <= 1 ? 1 : 1 + rng() % (s.size() - 1);  // keep the mode byte
    switch (rng() % 5) {
      case 0:
        if (pos < s.size()) s[pos] = static_cast<char>(rng() % 256);
        break;
      case 1:
        s.insert(std::min(pos, s.size()), 1, kAlphabet[rng() % kAlphabet.size()]);
        break;
      case 2:
        if (pos < s.size()) s.erase(pos, 1 + rng() % 3);
        break;
      case 3: {  // splice a piece of another seed
        const auto& other = pool[rng() % pool.size()];
        if (other.size() > 2) {
          const auto from = 1 + rng() % (other.size() - 1);
          s.insert(std::min(pos, s.size()), other.substr(from, 1 + rng() % 16));
        }
        break;
      }
      default:
        if (pos < s.size()) s[pos] = kAlphabet[rng() % kAlphabet.size()];
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
  const unsigned seed =
      argc > 2 ? static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10)) : 4242u;
  auto pool = seeds();
  std::mt19937 rng(seed);
  for (const auto& s : pool)
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  for (long i = 0; i < iterations; ++i) {
    const std::string input = mutate(pool[rng() % pool.size()], pool, rng);
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  }
  std::cout << "access_token_fuzz_replay: " << iterations << " inputs, verifiers agree\n";
  return 0;
}
