// Items typed by hand for a type that takes items: a JSON array, or one item per line (numbers and JSON values
// read as such, anything else as text).
import { parseLoose } from "./schema";

export interface ParsedItems {
  items: unknown[];
  /** Set when the text starts as a JSON array but does not parse as one. */
  error: "json" | null;
}

export function parseItems(text: string): ParsedItems {
  const trimmed = text.trim();
  if (trimmed === "") return { items: [], error: null };
  if (trimmed.startsWith("[")) {
    try {
      const value = JSON.parse(trimmed) as unknown;
      return Array.isArray(value) ? { items: value, error: null } : { items: [], error: "json" };
    } catch {
      return { items: [], error: "json" };
    }
  }
  const items = trimmed
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => parseLoose(line));
  return { items, error: null };
}
