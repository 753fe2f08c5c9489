// Times, places and phone numbers as the driver needs them.

const pad = (value, width = 2) => String(Math.abs(value)).padStart(width, "0");

/** The phone's time with its UTC offset (2025-03-04T10:15:02.123-03:00): what the API records. */
export function phoneTime(date = new Date()) {
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
  );
}

export function clock(value, lang, timeZone) {
  if (!value) return "";
  const options = { hour: "2-digit", minute: "2-digit" };
  try {
    return new Intl.DateTimeFormat(lang, { ...options, timeZone }).format(new Date(value));
  } catch {
    return new Intl.DateTimeFormat(lang, options).format(new Date(value));
  }
}

export function day(value, lang) {
  if (!value) return "";
  // A date without a time: shown as that calendar day wherever the phone is.
  const [year, month, date] = value.split("-").map(Number);
  return new Intl.DateTimeFormat(lang, {
    weekday: "short",
    day: "numeric",
    month: "short",
    timeZone: "UTC",
  }).format(new Date(Date.UTC(year, month - 1, date)));
}

export function shortDay(value, lang) {
  if (!value) return "";
  const [year, month, date] = value.split("-").map(Number);
  return new Intl.DateTimeFormat(lang, {
    day: "numeric",
    month: "numeric",
    timeZone: "UTC",
  }).format(new Date(Date.UTC(year, month - 1, date)));
}

export function dateTime(value, lang, timeZone) {
  if (!value) return "";
  const options = { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" };
  try {
    return new Intl.DateTimeFormat(lang, { ...options, timeZone }).format(new Date(value));
  } catch {
    return new Intl.DateTimeFormat(lang, options).format(new Date(value));
  }
}

const userAgent = () => navigator.userAgent || "";

/** A link that opens the phone's maps app at the address: geo: on Android, Apple Maps on iOS,
 * Google Maps elsewhere; by coordinates when the service has them. */
export function mapsUrl(address) {
  const hasPoint = typeof address.lat === "number" && typeof address.lng === "number";
  const point = hasPoint ? `${address.lat},${address.lng}` : "";
  const line = address.line || [address.street, address.number, address.city].join(" ");
  const query = encodeURIComponent(line);
  if (/android/i.test(userAgent())) {
    return hasPoint ? `geo:${point}?q=${point}(${query})` : `geo:0,0?q=${query}`;
  }
  if (/iphone|ipad|ipod/i.test(userAgent())) {
    return hasPoint
      ? `https://maps.apple.com/?ll=${point}&q=${query}`
      : `https://maps.apple.com/?q=${query}`;
  }
  return `https://www.google.com/maps/search/?api=1&query=${hasPoint ? point : query}`;
}

export function telUrl(phone) {
  const digits = (phone || "").replace(/[^\d+]/g, "");
  return digits ? `tel:${digits}` : null;
}

export function bytes(size) {
  if (size < 1024 * 1024) return `${Math.max(1, Math.round(size / 1024))} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}
