// Pictures from the camera: made smaller on the phone before they wait in the queue (the server
// keeps at most 2048 px anyway), and small previews drawn on canvases.

const PHOTO_SIDE = 2048;
// Labels keep more pixels: the server reads barcodes before it downscales (about 2.5 px a bar).
const LABEL_SIDE = 3200;

async function toBlob(canvas, type, quality) {
  if (canvas.convertToBlob) return canvas.convertToBlob({ type, quality });
  return new Promise((resolve) => canvas.toBlob(resolve, type, quality));
}

function canvasOf(width, height) {
  if (typeof OffscreenCanvas !== "undefined") return new OffscreenCanvas(width, height);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

/** The picture as a JPEG of at most `side` px, turned upright; the file itself when it is small
 * enough already or the phone cannot decode it (the server then says what is wrong). */
export async function prepared(file, { label = false } = {}) {
  const side = label ? LABEL_SIDE : PHOTO_SIDE;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return file;
  }
  try {
    const longest = Math.max(bitmap.width, bitmap.height);
    if (longest <= side && file.size <= 4 * 1024 * 1024) return file;
    const scale = Math.min(1, side / longest);
    const width = Math.round(bitmap.width * scale);
    const height = Math.round(bitmap.height * scale);
    const canvas = canvasOf(width, height);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, width, height);
    return (await toBlob(canvas, "image/jpeg", label ? 0.92 : 0.85)) || file;
  } finally {
    bitmap.close?.();
  }
}

/** Draws the picture on the canvas, cropped to fill it. */
export async function preview(canvas, blob) {
  const ratio = window.devicePixelRatio || 1;
  const box = canvas.getBoundingClientRect();
  canvas.width = Math.max(1, Math.round((box.width || 104) * ratio));
  canvas.height = Math.max(1, Math.round((box.height || 104) * ratio));
  try {
    const bitmap = await createImageBitmap(blob);
    const scale = Math.max(canvas.width / bitmap.width, canvas.height / bitmap.height);
    const width = bitmap.width * scale;
    const height = bitmap.height * scale;
    const context = canvas.getContext("2d");
    context.drawImage(
      bitmap,
      (canvas.width - width) / 2,
      (canvas.height - height) / 2,
      width,
      height,
    );
    bitmap.close?.();
  } catch {
    // Not a picture the phone can draw: the name below it is enough.
  }
}
