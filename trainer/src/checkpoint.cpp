#include "trainer/checkpoint.h"

#include <cstring>

#include "corpus/error.h"
#include "corpus/stream.h"

namespace kiln::trainer {
namespace {

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'C', 'K', 'P', 'T'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 512;
constexpr int32_t kLlmcMagic = 20240326;

size_t count_params(const GPTConfig& config) {
  size_t n = 0;
  for (size_t s : parameter_sizes(config)) n += s;
  return n;
}

template <class T>
void put(std::string& out, size_t offset, T value) {
  std::memcpy(out.data() + offset, &value, sizeof value);
}
template <class T>
T get(const std::string& in, size_t offset) {
  T value;
  std::memcpy(&value, in.data() + offset, sizeof value);
  return value;
}
std::string_view floats(const std::vector<float>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)};
}
std::vector<float> read_floats(const std::string& bytes, size_t offset, size_t count, const std::string& path,
                               const char* what) {
  if (bytes.size() < offset + count * sizeof(float))
    throw Error(cat(path, ": truncated: ", what, " needs bytes ", offset, "..", offset + count * sizeof(float),
                    " but the file has ", bytes.size()));
  std::vector<float> v(count);
  std::memcpy(v.data(), bytes.data() + offset, count * sizeof(float));
  return v;
}
GPTConfig config_from(int32_t maxT, int32_t V, int32_t Vp, int32_t L, int32_t NH, int32_t C, int32_t position,
                      int32_t norm, const std::string& path) {
  if (position < 0 || position > 1 || norm < 0 || norm > 1)
    throw Error(cat(path, ": unknown position (", position, ") or norm (", norm, ") code in the header"));
  GPTConfig c{.max_seq_len = maxT, .vocab_size = V, .padded_vocab_size = Vp, .num_layers = L, .num_heads = NH,
              .channels = C, .position = PositionEncoding(position), .norm = NormKind(norm)};
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error(cat(path, ": ", e.what()));
  }
  return c;
}

}  // namespace

void write_checkpoint(const std::string& path, const Checkpoint& ck) {
  const GPTConfig& c = ck.config;
  const size_t n = count_params(c);
  if (ck.params.size() != n) throw Error(cat(path, ": checkpoint has ", ck.params.size(), " params, config needs ", n));
  const bool has_opt = !ck.adam_m.empty();
  if (has_opt && (ck.adam_m.size() != n || ck.adam_v.size() != n))
    throw Error(cat(path, ": optimizer state sizes do not match the parameters"));
  std::string header(kHeaderBytes, '\0');
  std::memcpy(header.data(), kMagic, 8);
  put<uint32_t>(header, 8, kVersion);
  put<uint32_t>(header, 12, kHeaderBytes);
  const int32_t ints[8] = {c.max_seq_len, c.vocab_size, c.padded_vocab(), c.num_layers,
                           c.num_heads,   c.channels,   (int32_t)c.position, (int32_t)c.norm};
  std::memcpy(header.data() + 16, ints, sizeof ints);
  put<uint64_t>(header, 48, ck.state.step);
  put<uint64_t>(header, 56, ck.state.rng_state);
  put<uint64_t>(header, 64, ck.state.data_position);
  put<uint64_t>(header, 72, ck.state.data_rng_state);
  put<uint64_t>(header, 80, (uint64_t)n);
  put<uint32_t>(header, 88, has_opt ? 1u : 0u);
  AtomicFile file(path);
  file.write(header);
  file.write(floats(ck.params));
  if (has_opt) {
    file.write(floats(ck.adam_m));
    file.write(floats(ck.adam_v));
  }
  file.commit();
}

Checkpoint read_checkpoint(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, 8))
    throw Error(cat(path, ": not a kiln checkpoint (expected magic KILNCKPT and a ", kHeaderBytes, "-byte header)"));
  if (get<uint32_t>(bytes, 8) != kVersion)
    throw Error(cat(path, ": checkpoint version ", get<uint32_t>(bytes, 8), ", this kiln reads ", kVersion));
  int32_t i[8];
  std::memcpy(i, bytes.data() + 16, sizeof i);
  Checkpoint ck;
  ck.config = config_from(i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], path);
  ck.state.step = get<uint64_t>(bytes, 48);
  ck.state.rng_state = get<uint64_t>(bytes, 56);
  ck.state.data_position = get<uint64_t>(bytes, 64);
  ck.state.data_rng_state = get<uint64_t>(bytes, 72);
  const uint64_t n = get<uint64_t>(bytes, 80);
  if (n != count_params(ck.config))
    throw Error(cat(path, ": header says ", n, " params, the model config needs ", count_params(ck.config)));
  const bool has_opt = get<uint32_t>(bytes, 88) != 0;
  const size_t expected = kHeaderBytes + n * sizeof(float) * (has_opt ? 3 : 1);
  if (bytes.size() != expected)
    throw Error(cat(path, ": expected ", expected, " bytes, the file has ", bytes.size()));
  ck.params = read_floats(bytes, kHeaderBytes, n, path, "params");
  if (has_opt) {
    ck.adam_m = read_floats(bytes, kHeaderBytes + n * 4, n, path, "AdamW m");
    ck.adam_v = read_floats(bytes, kHeaderBytes + 2 * n * 4, n, path, "AdamW v");
  }
  return ck;
}

void write_llmc_checkpoint(const std::string& path, const GPTConfig& c, const std::vector<float>& params) {
  if (params.size() != count_params(c))
    throw Error(cat(path, ": ", params.size(), " params, config needs ", count_params(c)));
  int32_t header[256] = {};
  header[0] = kLlmcMagic;
  header[1] = 3;
  header[2] = c.max_seq_len;
  header[3] = c.vocab_size;
  header[4] = c.num_layers;
  header[5] = c.num_heads;
  header[6] = c.channels;
  header[7] = c.padded_vocab();
  header[8] = (int32_t)c.position;
  header[9] = (int32_t)c.norm;
  AtomicFile file(path);
  file.write({reinterpret_cast<const char*>(header), sizeof header});
  file.write(floats(params));
  file.commit();
}

Checkpoint read_llmc_checkpoint(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < 1024) throw Error(cat(path, ": too short for an llm.c checkpoint (1024-byte header)"));
  int32_t h[256];
  std::memcpy(h, bytes.data(), sizeof h);
  if (h[0] != kLlmcMagic) throw Error(cat(path, ": bad llm.c magic ", h[0], ", expected ", kLlmcMagic));
  if (h[1] != 3 && h[1] != 5)
    throw Error(cat(path, ": llm.c checkpoint version ", h[1], ", expected 3 (fp32) or 5 (bf16)"));
  Checkpoint ck;
  ck.config = config_from(h[2], h[3], h[7], h[4], h[5], h[6], h[8], h[9], path);
  const size_t n = count_params(ck.config);
  if (h[1] == 3) {
    if (bytes.size() != 1024 + n * 4)
      throw Error(cat(path, ": expected ", 1024 + n * 4, " bytes for ", n, " fp32 params, the file has ", bytes.size()));
    ck.params = read_floats(bytes, 1024, n, path, "params");
  } else {
    if (bytes.size() != 1024 + n * 2)
      throw Error(cat(path, ": expected ", 1024 + n * 2, " bytes for ", n, " bf16 params, the file has ", bytes.size()));
    ck.params.resize(n);
    for (size_t i = 0; i < n; i++) {
      uint16_t b;
      std::memcpy(&b, bytes.data() + 1024 + 2 * i, 2);
      const uint32_t bits = (uint32_t)b << 16;
      std::memcpy(&ck.params[i], &bits, 4);
    }
  }
  return ck;
}

Checkpoint read_any_checkpoint(const std::string& path) {
  const std::string head = read_file(path).substr(0, 8);
  if (head.size() == 8 && !std::memcmp(head.data(), kMagic, 8)) return read_checkpoint(path);
  return read_llmc_checkpoint(path);
}

}  // namespace kiln::trainer
