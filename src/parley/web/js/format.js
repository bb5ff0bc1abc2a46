// Sizes, times and days, as people read them.

/**
 * @param {number} bytes
 * @returns {string}
 */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1).replace(/\.0$/, "") : Math.round(value)} ${units[unit]}`;
}

/**
 * @param {Date} when
 * @returns {string}
 */
export function dayKey(when) {
  return `${when.getFullYear()}-${when.getMonth() + 1}-${when.getDate()}`;
}

/**
 * "Today", "Yesterday", or the date (with the year when it is not this one).
 * @param {Date} when
 * @param {Date} [now]
 * @returns {string}
 */
export function dayLabel(when, now = new Date()) {
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (dayKey(when) === dayKey(now)) return "Today";
  if (dayKey(when) === dayKey(yesterday)) return "Yesterday";
  /** @type {Intl.DateTimeFormatOptions} */
  const options = { weekday: "long", day: "numeric", month: "long" };
  if (when.getFullYear() !== now.getFullYear()) options.year = "numeric";
  return when.toLocaleDateString([], options);
}

/**
 * @param {Date} when
 * @returns {string}
 */
export function timeOfDay(when) {
  return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/**
 * @param {Date} when
 * @returns {string}
 */
export function fullDate(when) {
  return when.toLocaleString([], { dateStyle: "full", timeStyle: "short" });
}
