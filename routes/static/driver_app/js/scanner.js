// Scanning package barcodes with the camera, where the browser has a BarcodeDetector. Elsewhere
// the driver photographs the label and the server reads it.

const WANTED = ["code_128", "code_39", "ean_13", "ean_8", "upc_a", "qr_code"];

export function available() {
  return "BarcodeDetector" in window && Boolean(navigator.mediaDevices?.getUserMedia);
}

/** Shows the camera in `video` and calls onCode(value) for each code read, until stop(). */
export async function start(video, onCode) {
  const supported = await window.BarcodeDetector.getSupportedFormats();
  const formats = WANTED.filter((format) => supported.includes(format));
  const detector = new window.BarcodeDetector(formats.length ? { formats } : undefined);
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: "environment" } },
    audio: false,
  });
  video.srcObject = stream;
  video.setAttribute("playsinline", "");
  video.muted = true;
  await video.play();
  let stopped = false;
  let timer = null;
  const loop = async () => {
    if (stopped) return;
    try {
      for (const code of await detector.detect(video)) onCode(code.rawValue);
    } catch {
      // A frame that could not be read; the next one may be.
    }
    timer = setTimeout(loop, 250);
  };
  loop();
  return function stop() {
    stopped = true;
    clearTimeout(timer);
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
}
