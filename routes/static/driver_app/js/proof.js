// Completing a stop (receiver, signature, photos, package barcodes) and failing one (a reason from
// the account's list). Both end in the queue, so they work without a network.
import SignaturePad from "../../vendor/signature_pad/signature_pad.min.js";
import { h, replace } from "./dom.js";
import { bytes, phoneTime } from "./format.js";
import { t } from "./i18n.js";
import { prepared, preview } from "./images.js";
import * as scanner from "./scanner.js";
import { badge, proofRead } from "./screens.js";
import * as app from "./state.js";

function closed(route, stop, move) {
  if (!stop)
    return {
      title: t("app.name"),
      back: "#/",
      node: h("p", { class: "notice" }, t("app.not_found")),
    };
  if (route.status === "in_progress" && app.STOP_MOVES[stop.status].includes(move)) return null;
  return {
    title: t("stop.short", { sequence: stop.sequence }),
    back: `#/stop/${stop.id}`,
    node: h(
      "section",
      {},
      h("p", { class: "notice" }, t("proof.closed")),
      h("p", {}, badge(stop.status, stop.unsent)),
    ),
  };
}

function field(id, label, input) {
  return [h("label", { for: id }, label), input];
}

function camera(id, text, testid, onFiles) {
  const input = h("input", {
    id,
    type: "file",
    accept: "image/*",
    capture: "environment",
    class: "visually-hidden",
    testid,
    on: {
      change: async (event) => {
        const files = [...event.target.files];
        event.target.value = "";
        await onFiles(files);
      },
    },
  });
  return [input, h("label", { for: id, class: "button" }, text)];
}

// Completing -----------------------------------------------------------------------------------

export function completeScreen({ params: [stopId], go }) {
  const { route, stop } = app.findStop(stopId);
  const refused = closed(route, stop, "done");
  if (refused) return refused;
  const settings = app.state.me?.settings ?? {};
  const packages = stop.service.packages.map((item) => item.barcode);
  const scanned = new Set();
  const photos = [];
  let labels = 0;
  let signedAt = null;
  let pad = null;
  let stopCamera = null;

  const receiverName = h("input", {
    id: "receiver-name",
    type: "text",
    autocomplete: "off",
    maxlength: 150,
  });
  const receiverDocument = h("input", {
    id: "receiver-document",
    type: "text",
    autocomplete: "off",
    maxlength: 30,
    inputmode: "text",
  });
  const comment = h("textarea", { id: "comment", maxlength: 2000 });
  const canvas = h("canvas", { testid: "signature", "aria-label": t("proof.signature") });
  const thumbs = h("ul", { class: "thumbs", testid: "photos" });
  const packageList = h("ul", { class: "packages", testid: "packages" });
  const labelState = h("div", { testid: "labels" });
  const scanMessage = h("p", { role: "status", testid: "scan-message" });
  const video = h("video", { hidden: true, playsinline: true });
  const typed = h("input", {
    id: "typed-code",
    type: "text",
    autocomplete: "off",
    autocapitalize: "characters",
    placeholder: t("proof.type_code"),
  });
  const error = h("p", {
    class: "notice error",
    role: "alert",
    hidden: true,
    testid: "complete-error",
  });

  function fromLabels() {
    return new Set((app.state.results[stop.id]?.read ?? []).flatMap((item) => item.matched));
  }

  function drawPackages() {
    const read = fromLabels();
    replace(
      packageList,
      stop.service.packages.map((item) => {
        const how = scanned.has(item.barcode)
          ? "proof.scanned"
          : read.has(item.barcode)
            ? "proof.from_label"
            : null;
        return h(
          "li",
          { dataset: { barcode: item.barcode, ok: String(Boolean(how)) } },
          how ? h("span", { class: "ok" }, `✓ ${t(how)} `) : "○ ",
          h("strong", {}, item.barcode),
          item.description ? ` — ${item.description}` : "",
        );
      }),
    );
    const result = app.state.results[stop.id];
    replace(
      labelState,
      labels ? h("p", {}, t("proof.labels_sent", { count: labels })) : null,
      result?.read?.length ? proofRead(result) : null,
    );
  }

  function drawPhotos() {
    replace(
      thumbs,
      photos.map((photo, index) => {
        const picture = h("canvas", { "aria-hidden": "true" });
        queueMicrotask(() => preview(picture, photo.blob));
        return h(
          "li",
          {},
          picture,
          h("span", { class: "muted" }, bytes(photo.blob.size)),
          h(
            "button",
            {
              type: "button",
              on: {
                click: () => {
                  photos.splice(index, 1);
                  drawPhotos();
                },
              },
            },
            t("proof.remove"),
          ),
        );
      }),
    );
  }

  function addCode(raw) {
    const code = (raw || "").trim();
    if (!code) return;
    if (!packages.includes(code)) {
      scanMessage.textContent = t("proof.not_a_package", { code });
      return;
    }
    if (!scanned.has(code)) navigator.vibrate?.(80);
    scanned.add(code);
    scanMessage.textContent = t("proof.scanned_code", { code });
    drawPackages();
  }

  async function toggleCamera(button) {
    if (stopCamera) {
      stopCamera();
      stopCamera = null;
      video.hidden = true;
      button.textContent = t("proof.scan");
      return;
    }
    try {
      video.hidden = false;
      stopCamera = await scanner.start(video, addCode);
      button.textContent = t("proof.scan_stop");
    } catch {
      video.hidden = true;
      scanMessage.textContent = t("proof.camera_failed");
    }
  }

  function sizePad() {
    if (!pad) return;
    const data = pad.toData();
    const ratio = Math.max(window.devicePixelRatio || 1, 1);
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    pad.fromData(data);
  }

  function signatureBlob() {
    return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }

  async function submit(event) {
    event.preventDefault();
    error.hidden = true;
    const signed = pad && !pad.isEmpty();
    let problem = null;
    if (settings.signature_required && !signed) problem = t("proof.signature_required");
    else if (settings.photo_required && photos.length === 0 && labels === 0)
      problem = t("proof.photo_required");
    if (problem) {
      error.textContent = problem;
      error.hidden = false;
      error.scrollIntoView({ block: "center" });
      return;
    }
    submitButton.disabled = true;
    await app.completeStop(route, stop, {
      receiverName: receiverName.value.trim(),
      receiverDocument: receiverDocument.value.trim(),
      comment: comment.value.trim(),
      barcodes: [...scanned],
      signature: signed
        ? { blob: await signatureBlob(), recordedAt: signedAt ?? phoneTime() }
        : null,
      photos,
    });
    go(`#/route/${route.id}`, { replace: true });
  }

  const submitButton = h(
    "button",
    { type: "submit", class: "good", testid: "complete-submit" },
    t("proof.submit"),
  );
  const scanButton = scanner.available()
    ? h(
        "button",
        {
          type: "button",
          class: "primary",
          testid: "scan",
          on: { click: (event) => toggleCamera(event.currentTarget) },
        },
        t("proof.scan"),
      )
    : null;

  const node = h(
    "form",
    { testid: "complete-form", novalidate: true, on: { submit } },
    h(
      "h2",
      {},
      t("proof.complete_title", { sequence: stop.sequence, customer: stop.service.customer.name }),
    ),
    field("receiver-name", t("proof.receiver_name"), receiverName),
    field("receiver-document", t("proof.receiver_document"), receiverDocument),
    h(
      "h3",
      {},
      t("proof.signature"),
      settings.signature_required ? ` (${t("proof.required")})` : "",
    ),
    h("div", { class: "signature" }, canvas),
    h(
      "button",
      { type: "button", testid: "signature-clear", on: { click: () => pad?.clear() } },
      t("proof.clear"),
    ),
    h("h3", {}, t("proof.photos"), settings.photo_required ? ` (${t("proof.required")})` : ""),
    thumbs,
    camera("photo-input", t("proof.take_photo"), "photo-input", async (files) => {
      for (const file of files) {
        photos.push({
          blob: await prepared(file),
          name: file.name || "photo.jpg",
          recordedAt: phoneTime(),
        });
      }
      drawPhotos();
    }),
    h("h3", {}, t("proof.packages")),
    packageList,
    scanButton,
    video,
    camera("label-input", t("proof.label_photo"), "label-input", async (files) => {
      for (const file of files) {
        const blob = await prepared(file, { label: true });
        labels += 1;
        await app.sendLabel(route, stop, {
          blob,
          name: file.name || "label.jpg",
          recordedAt: phoneTime(),
        });
      }
      drawPackages();
    }),
    labelState,
    h(
      "div",
      { class: "inline" },
      h("label", { for: "typed-code", class: "visually-hidden" }, t("proof.type_code")),
      typed,
      h(
        "button",
        {
          type: "button",
          testid: "add-code",
          on: {
            click: () => {
              addCode(typed.value);
              typed.value = "";
            },
          },
        },
        t("proof.add_code"),
      ),
    ),
    scanMessage,
    field("comment", t("proof.comment"), comment),
    error,
    submitButton,
  );
  drawPackages();

  return {
    title: t("stop.short", { sequence: stop.sequence }),
    back: `#/stop/${stop.id}`,
    node,
    live: false,
    mounted() {
      pad = new SignaturePad(canvas, {
        backgroundColor: "rgb(255, 255, 255)",
        penColor: "rgb(0, 0, 0)",
      });
      pad.addEventListener("endStroke", () => {
        signedAt = phoneTime();
      });
      sizePad();
      window.addEventListener("resize", sizePad);
    },
    update() {
      drawPackages();
    },
    destroy() {
      window.removeEventListener("resize", sizePad);
      stopCamera?.();
      pad?.off();
    },
  };
}

// Failing --------------------------------------------------------------------------------------

export function failScreen({ params: [stopId], go }) {
  const { route, stop } = app.findStop(stopId);
  const refused = closed(route, stop, "failed");
  if (refused) return refused;
  const reasons = app.state.reasons;
  const description = h("textarea", { id: "fail-description", maxlength: 2000 });
  const hint = h("p", { class: "muted", testid: "fail-hint" });
  const error = h("p", {
    class: "notice error",
    role: "alert",
    hidden: true,
    testid: "fail-error",
  });
  const chosen = () => {
    const input = node.querySelector("input[name=reason]:checked");
    return reasons.find((reason) => String(reason.id) === input?.value) ?? null;
  };
  const explain = () => {
    const reason = chosen();
    const notes = [];
    if (reason?.requires_description) notes.push(t("fail.describe"));
    if (reason?.opens_chat) notes.push(t("fail.opens_chat"));
    hint.textContent = notes.join(" ");
  };

  async function submit(event) {
    event.preventDefault();
    const reason = chosen();
    let problem = null;
    if (!reason) problem = t("fail.choose");
    else if (reason.requires_description && !description.value.trim()) problem = t("fail.describe");
    if (problem) {
      error.textContent = problem;
      error.hidden = false;
      return;
    }
    submitButton.disabled = true;
    await app.failStop(route, stop, reason, description.value.trim());
    go(reason.opens_chat ? `#/route/${route.id}/chat/${stop.id}` : `#/route/${route.id}`, {
      replace: true,
    });
  }

  const submitButton = h(
    "button",
    { type: "submit", class: "bad", testid: "fail-submit" },
    t("fail.submit"),
  );
  const node = h(
    "form",
    { testid: "fail-form", novalidate: true, on: { submit } },
    h("h2", {}, t("fail.title", { sequence: stop.sequence, customer: stop.service.customer.name })),
    reasons.length === 0 ? h("p", { class: "notice warn" }, t("fail.no_reasons")) : null,
    h(
      "fieldset",
      { class: "reasons" },
      h("legend", { class: "visually-hidden" }, t("fail.reason")),
      reasons.map((reason) =>
        h(
          "label",
          { class: "choice" },
          h("input", {
            type: "radio",
            name: "reason",
            value: String(reason.id),
            on: { change: explain },
          }),
          h("span", {}, reason.description),
        ),
      ),
    ),
    hint,
    h("label", { for: "fail-description" }, t("fail.description")),
    description,
    error,
    submitButton,
  );
  return {
    title: t("stop.short", { sequence: stop.sequence }),
    back: `#/stop/${stop.id}`,
    node,
    live: false,
  };
}
