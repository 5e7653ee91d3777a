// Checkpoints: kiln's own (everything a bit-exact resume needs) and llm.c's model file.
//
// kiln checkpoint (one file, little-endian, written atomically through AtomicFile):
//   char[8] "KILNCKPT", uint32 version (1), uint32 header bytes (512),
//   int32 maxT, V, Vp, L, NH, C, position (0 learned, 1 rope), norm (0 layernorm, 1 rmsnorm),
//   uint64 step, uint64 rng state, uint64 data cursor position, uint64 data rng state,
//   uint64 num_params, uint32 has_optimizer, uint32 reserved, zero padding to 512 bytes,
//   then float32 params (num_params), and if has_optimizer AdamW m (num_params), v (num_params).
//
// llm.c model file (llm.c train_gpt2.c, gpt2_build_from_checkpoint): int32[256] header
//   [0] 20240326, [1] version (3 = fp32, 5 = bf16), [2] maxT, [3] V, [4] L, [5] NH, [6] C,
//   [7] Vp, then the parameters in the order of trainer/model.h. llm.c knows only learned
//   positions and LayerNorm; kiln stores position/norm in header slots [8]/[9] (0 = llm.c's,
//   which llm.c ignores), so RoPE/RMSNorm models round-trip through kiln but are refused
//   by write_llmc_checkpoint(..., strict = true).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/model.h"

namespace kiln::trainer {

// Where a training run stands, beside the parameters and optimizer moments.
struct TrainState {
  uint64_t step = 0;           // optimizer steps taken
  uint64_t rng_state = 0;      // the trainer's Rng
  uint64_t data_position = 0;  // DataLoader cursor: next token offset (sequential mode)
  uint64_t data_rng_state = 0; // DataLoader's Rng (random-window mode)
};

struct Checkpoint {
  GPTConfig config;
  TrainState state;
  std::vector<float> params;  // (num_params)
  std::vector<float> adam_m;  // (num_params) or empty
  std::vector<float> adam_v;  // (num_params) or empty
};

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Throws kiln::Error naming the file and what was wrong (magic, version, sizes, truncation).
Checkpoint read_checkpoint(const std::string& path);

// llm.c format: parameters only. Reads fp32 (version 3) and bf16 (version 5) files.
void write_llmc_checkpoint(const std::string& path, const GPTConfig& config, const std::vector<float>& params);
Checkpoint read_llmc_checkpoint(const std::string& path);

// Either format, told apart by the first bytes.
Checkpoint read_any_checkpoint(const std::string& path);

}  // namespace kiln::trainer
