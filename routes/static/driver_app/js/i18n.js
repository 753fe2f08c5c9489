// The app's own dictionaries (../i18n/<lang>.json): English, Portuguese (Brazil) and Spanish,
// chosen from the phone's languages and switchable; the choice is kept on the phone.

export const LANGUAGES = [
  { code: "en", name: "English" },
  { code: "pt-BR", name: "Português (Brasil)" },
  { code: "es", name: "Español" },
];
const STORAGE_KEY = "driver-app:lang";

let current = "en";
let words = {};
let fallback = {};

export function pick(preferred = navigator.languages ?? [navigator.language]) {
  for (const tag of preferred) {
    const lower = (tag || "").toLowerCase();
    if (lower.startsWith("pt")) return "pt-BR";
    if (lower.startsWith("es")) return "es";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
}

export function chosen() {
  const stored = localStorage.getItem(STORAGE_KEY);
  return LANGUAGES.some((language) => language.code === stored) ? stored : pick();
}

async function dictionary(code) {
  const response = await fetch(new URL(`../i18n/${code}.json`, import.meta.url));
  if (!response.ok) throw new Error(`dictionary ${code}: ${response.status}`);
  return response.json();
}

export async function use(code, { remember = false } = {}) {
  if (!LANGUAGES.some((language) => language.code === code)) code = "en";
  if (Object.keys(fallback).length === 0) fallback = await dictionary("en");
  words = code === "en" ? fallback : await dictionary(code);
  current = code;
  if (remember) localStorage.setItem(STORAGE_KEY, code);
  document.documentElement.lang = code;
  return code;
}

export function lang() {
  return current;
}

/** The text for key in the current language, with {name} placeholders filled from params. */
export function t(key, params = {}) {
  const text = words[key] ?? fallback[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name) =>
    name in params ? String(params[name]) : match,
  );
}
