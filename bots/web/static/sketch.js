// The /sketch canvas. No third-party script: inside Telegram the Mini App's initData is read from the
// address's #tgWebAppData (where Telegram puts it when it opens the page) instead of loading
// telegram-web-app.js, and the few Mini App events the page needs are posted the way that script posts them.
// Outside Telegram the page is opened from a signed link: /sketch?token=...
"use strict";

(() => {
  const TEXTS = JSON.parse(document.getElementById("texts").textContent);
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const status = $("status");
  const resultImage = $("result");
  const POLL_MS = 1000;
  const PREVIEW_DELAY_MS = 700;
  const PREVIEW_RETRY_MS = 4000;
  const MAX_UNDO = 30;

  // --- who is drawing ------------------------------------------------------------------------------------
  const hash = new URLSearchParams(location.hash.slice(1));
  const initData = hash.get("tgWebAppData") || sessionStorage.getItem("atelier.initData") || "";
  const token = new URLSearchParams(location.search).get("token") || "";
  if (initData) sessionStorage.setItem("atelier.initData", initData);
  const telegramLang = (() => {
    try { return JSON.parse(new URLSearchParams(initData).get("user") || "{}").language_code || ""; }
    catch (e) { return ""; }
  })().split("-")[0];
  const lang = TEXTS[telegramLang] ? telegramLang : (TEXTS[document.documentElement.lang] ? document.documentElement.lang : "en");
  document.documentElement.lang = lang;
  const T = (key, params) => (TEXTS[lang][key] || TEXTS.en[key] || key)
    .replace(/\{(\w+)\}/g, (_, name) => (params && name in params ? params[name] : `{${name}}`));
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = T(el.dataset.t); });
  document.title = T("web.title");
  resultImage.alt = T("web.result");

  function authHeaders() {
    return initData ? { "X-Telegram-Init-Data": initData } : { "X-Canvas-Token": token };
  }

  // Telegram Mini App events (https://core.telegram.org/api/web-events): shown, full height, and no
  // swipe-down-to-close while a finger draws.
  function telegramEvent(type, data) {
    const eventData = data || {};
    try {
      if (window.TelegramWebviewProxy) {
        window.TelegramWebviewProxy.postEvent(type, JSON.stringify(eventData));
      } else if (window.parent !== window) {
        window.parent.postMessage(JSON.stringify({ eventType: type, eventData }), "*");
      }
    } catch (e) { /* not inside Telegram */ }
  }
  if (initData) {
    telegramEvent("web_app_ready");
    telegramEvent("web_app_expand");
    telegramEvent("web_app_setup_swipe_behavior", { allow_vertical_swipe: false });
  }

  // --- drawing -------------------------------------------------------------------------------------------
  let tool = "brush";
  let activePointer = null;
  let last = null;
  const undoStack = [];

  function fillWhite() {
    ctx.save();
    ctx.globalCompositeOperation = "source-over";
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.restore();
  }
  fillWhite();

  function pushUndo() {
    undoStack.push(ctx.getImageData(0, 0, canvas.width, canvas.height));
    if (undoStack.length > MAX_UNDO) undoStack.shift();
  }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
  }

  function stroke(from, to) {
    ctx.strokeStyle = tool === "eraser" ? "#fff" : "#000";
    ctx.lineWidth = Number($("size").value) * (tool === "eraser" ? 2 : 1);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (activePointer !== null || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    activePointer = event.pointerId;
    pushUndo();
    last = point(event);
    stroke(last, last);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (event.pointerId !== activePointer) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const each of events.length ? events : [event]) {
      const next = point(each);
      stroke(last, next);
      last = next;
    }
  });
  const endStroke = (event) => {
    if (event.pointerId !== activePointer) return;
    activePointer = null;
    schedulePreview();
  };
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);

  function chooseTool(name) {
    tool = name;
    $("brush").classList.toggle("active", name === "brush");
    $("eraser").classList.toggle("active", name === "eraser");
  }
  $("brush").addEventListener("click", () => chooseTool("brush"));
  $("eraser").addEventListener("click", () => chooseTool("eraser"));
  $("undo").addEventListener("click", () => {
    const previous = undoStack.pop();
    if (previous) { ctx.putImageData(previous, 0, 0); schedulePreview(); }
  });
  $("clear").addEventListener("click", () => { pushUndo(); fillWhite(); });
  const strength = $("strength");
  const showStrength = () => { $("strength-value").textContent = Number(strength.value).toFixed(2); };
  strength.addEventListener("input", showStrength);
  strength.addEventListener("change", schedulePreview);
  showStrength();
  resultImage.addEventListener("click", () => resultImage.classList.toggle("full"));

  function blank() {
    const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < pixels.length; i += 4) {
      if (pixels[i] < 250 || pixels[i + 1] < 250 || pixels[i + 2] < 250) return false;
    }
    return true;
  }

  // --- talking to the studio -----------------------------------------------------------------------------
  function say(text, isError) {
    status.textContent = text || "";
    status.classList.toggle("error", Boolean(isError));
  }

  function requestId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  class Refused extends Error {
    constructor(status, body) { super(body.message || T("web.network")); this.status = status; this.key = body.error; }
  }

  async function send(fast) {
    const drawing = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    const form = new FormData();
    form.append("drawing", drawing, "drawing.png");
    form.append("strength", strength.value);
    form.append("request_id", requestId());
    if (fast) form.append("fast", "1");
    if (initData) form.append("init_data", initData); else form.append("token", token);
    const response = await fetch("sketch", { method: "POST", body: form });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Refused(response.status, body);
    return body;
  }

  async function follow(jobId, onMessage) {
    for (;;) {
      const response = await fetch(`sketch/jobs/${encodeURIComponent(jobId)}`, { headers: authHeaders(), cache: "no-store" });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Refused(response.status, body);
      if (body.done) {
        const image = await fetch(body.result, { headers: authHeaders(), cache: "no-store" });
        if (!image.ok) throw new Refused(image.status, {});
        return { message: body.message, url: URL.createObjectURL(await image.blob()) };
      }
      if (["failed", "cancelled"].includes(body.state)) throw new Refused(200, body);
      onMessage(body.message);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  function show(url) {
    if (resultImage.src.startsWith("blob:")) URL.revokeObjectURL(resultImage.src);
    resultImage.src = url;
    resultImage.hidden = false;
  }

  // "Make my face": the job is announced and delivered in the chat; the canvas follows it too.
  const submit = $("submit");
  submit.addEventListener("click", async () => {
    if (blank()) { say(T("web.blank"), true); return; }
    submit.disabled = true;
    say(T("web.sending"));
    try {
      const accepted = await send(false);
      say(accepted.message);
      const done = await follow(accepted.job_id, (message) => say(message));
      show(done.url);
      say(done.message);
    } catch (error) {
      say(error instanceof Refused ? error.message : T("web.network"), true);
    } finally {
      submit.disabled = false;
    }
  });

  // The live preview: a fast job after each stroke, never more than one in flight.
  let previewTimer = null;
  let previewBusy = false;
  let previewAgain = false;
  function schedulePreview(delay) {
    if (!$("preview").checked) return;
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, typeof delay === "number" ? delay : PREVIEW_DELAY_MS);
  }
  $("preview").addEventListener("change", () => schedulePreview(0));

  async function preview() {
    if (!$("preview").checked || blank()) return;
    if (previewBusy) { previewAgain = true; return; }
    previewBusy = true;
    previewAgain = false;
    try {
      say(T("web.previewing"));
      const accepted = await send(true);
      const done = await follow(accepted.job_id, () => {});
      show(done.url);
      say(T("web.preview_done"));
    } catch (error) {
      if (error instanceof Refused && error.key === "web.preview_wait") {
        say(error.message);
        previewAgain = true;
        previewTimer = setTimeout(preview, PREVIEW_RETRY_MS);
        previewBusy = false;
        return;
      }
      say(error instanceof Refused ? error.message : T("web.network"), true);
    } finally {
      previewBusy = false;
    }
    if (previewAgain) schedulePreview();
  }
})();
