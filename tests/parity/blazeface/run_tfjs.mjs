// Run a TF.js graph model with the original runtime (pure-JS @tensorflow/tfjs, CPU backend).
//
//   node run_tfjs.mjs MODEL_JSON INPUT_BIN SHAPE OUTPUTS OUT_DIR
//
// INPUT_BIN holds float32 rows of SHAPE ("n,h,w,c"); each row is run on its own (the graph's
// batch is fixed at 1). OUTPUTS is a comma-separated list of output node names; OUT_DIR gets
// one float32 file per output (all rows, in order) and outputs.json with their shapes.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

function fileHandler(modelPath) {
  // tf.loadGraphModel fetches URLs; in node we hand it the files ourselves.
  return {
    load: async () => {
      const document = JSON.parse(readFileSync(modelPath, 'utf8'));
      const weightSpecs = document.weightsManifest.flatMap((group) => group.weights);
      const shards = document.weightsManifest.flatMap(
        (group) => group.paths.map((path) => readFileSync(join(dirname(modelPath), path))));
      const data = Buffer.concat(shards);
      return {
        modelTopology: document.modelTopology,
        format: document.format,
        userDefinedMetadata: document.userDefinedMetadata,
        weightSpecs,
        weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      };
    },
  };
}

async function main([modelPath, inputPath, shapeText, outputText, outDir]) {
  await tf.setBackend('cpu');
  const model = await tf.loadGraphModel(fileHandler(modelPath));
  const shape = shapeText.split(',').map(Number);
  const raw = readFileSync(inputPath);
  const all = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const rowSize = all.length / shape[0];
  const names = outputText.split(',');
  const results = names.map(() => []);
  for (let row = 0; row < shape[0]; row += 1) {
    const input = tf.tensor(all.subarray(row * rowSize, (row + 1) * rowSize), [1, ...shape.slice(1)]);
    const outputs = [model.execute(input, names)].flat(); // one name gives a bare tensor
    for (const [k, output] of outputs.entries()) results[k].push({ shape: output.shape, data: output.dataSync() });
    tf.dispose([input, ...outputs]);
  }
  const manifest = names.map((name, k) => {
    const rows = results[k];
    const bytes = Buffer.concat(rows.map((r) => Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength)));
    writeFileSync(join(outDir, `${k}.bin`), bytes);
    return { name, shape: [shape[0], ...rows[0].shape.slice(1)] };
  });
  writeFileSync(join(outDir, 'outputs.json'), JSON.stringify({ tfjs: tf.version.tfjs, outputs: manifest }));
}

main(process.argv.slice(2)).catch((error) => { console.error(error); process.exit(1); });
