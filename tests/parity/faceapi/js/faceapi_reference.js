// Reference outputs of face-api's own nets on pure-JS TensorFlow.js (CPU backend).
//
// Reads a JSON request on stdin: {"jobs": [{"net", "mode", "input", "shape"}]} where "input" is
// a file of little-endian float32 pixels (RGB 0..255, NHWC, "shape" = [n, h, w, 3]) and
//   mode "network":  h = w = the net's input size; the images go through face-api's
//                    NetInput as one batch, so only the network (and its normalisation) runs;
//   mode "pipeline": one image of any size; face-api pads it to a centred square and resizes it
//                    itself (NetInput.toBatchTensor), i.e. its whole preprocessing runs.
// Writes {"results": [...]} on stdout, one entry per job: {"age": [n], "gender": [n][2]},
// {"probabilities": [n][7]} or {"embedding": [n][128]}, the outputs of the served ONNX models.
'use strict';

const fs = require('fs');
const path = require('path');
const Module = require('module');

// face-api's node build requires the native @tensorflow/tfjs-node; the pure-JS package has the
// same API and needs no native binary, which is what makes it runnable everywhere.
const resolve = Module._resolveFilename;
Module._resolveFilename = function redirect(request, ...rest) {
  return resolve.call(this, request === '@tensorflow/tfjs-node' ? '@tensorflow/tfjs' : request, ...rest);
};
const faceapi = require('@vladmandic/face-api/dist/face-api.node.js');

const { tf } = faceapi;
const MODEL_DIR = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
const NETS = {
  age_gender: () => faceapi.nets.ageGenderNet,
  expression: () => faceapi.nets.faceExpressionNet,
  recognition: () => faceapi.nets.faceRecognitionNet,
};

function readImages(job) {
  const [n, h, w, c] = job.shape;
  const buffer = fs.readFileSync(job.input);
  const values = new Float32Array(buffer.buffer, buffer.byteOffset, buffer.byteLength / 4);
  if (values.length !== n * h * w * c) throw new Error(`${job.input}: expected ${n * h * w * c} values`);
  const size = h * w * c;
  return Array.from({ length: n }, (_, i) => tf.tensor3d(values.subarray(i * size, (i + 1) * size), [h, w, c], 'float32'));
}

async function outputsOf(net, output) {
  if (output instanceof tf.Tensor) {
    const key = net === faceapi.nets.faceRecognitionNet ? 'embedding' : 'probabilities';
    return { [key]: await output.array() };
  }
  return { age: await output.age.array(), gender: await output.gender.array() };
}

async function run(job) {
  const net = NETS[job.net]();
  const images = readImages(job);
  if (job.mode === 'pipeline' && images.length !== 1) throw new Error('pipeline mode takes one image');
  const input = job.mode === 'pipeline'
    ? await faceapi.toNetInput(images[0]) // pads, resizes and batches like any face-api call
    : new faceapi.NetInput(images, true);
  const output = net.forwardInput(input);
  const result = await outputsOf(net, output);
  tf.dispose([output, images]);
  return result;
}

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  const request = JSON.parse(fs.readFileSync(0, 'utf8'));
  const wanted = new Set(request.jobs.map((job) => job.net));
  for (const name of wanted) await NETS[name]().loadFromDisk(MODEL_DIR);
  const results = [];
  for (const job of request.jobs) results.push(await run(job));
  process.stdout.write(JSON.stringify({ results, tfjs: tf.version.tfjs, backend: tf.getBackend() }));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
