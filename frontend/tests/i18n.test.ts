import { describe, expect, it } from "vitest";
import { AREAS, type Messages } from "@/i18n";

function keys(tree: Messages, prefix = ""): string[] {
  return Object.entries(tree).flatMap(([key, value]) =>
    typeof value === "string" ? [prefix + key] : keys(value, `${prefix}${key}.`),
  );
}

function placeholders(tree: Messages, prefix = ""): Map<string, string> {
  const found = new Map<string, string>();
  for (const [key, value] of Object.entries(tree)) {
    if (typeof value === "string") found.set(prefix + key, [...value.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(","));
    else for (const [k, v] of placeholders(value, `${prefix}${key}.`)) found.set(k, v);
  }
  return found;
}

describe("messages", () => {
  for (const [name, area] of Object.entries(AREAS)) {
    it(`${name}: every key exists in zh-CN and en`, () => {
      expect(keys(area["zh-CN"]).sort()).toEqual(keys(area.en).sort());
    });

    it(`${name}: both languages fill the same placeholders`, () => {
      expect(placeholders(area["zh-CN"])).toEqual(placeholders(area.en));
    });

    it(`${name}: no text is empty`, () => {
      for (const locale of ["en", "zh-CN"] as const) {
        const empty = [...placeholders(area[locale]).keys()].filter((key) => {
          const value = key.split(".").reduce<unknown>((node, part) => (node as Messages)[part], area[locale]);
          return typeof value === "string" && value.trim() === "";
        });
        expect(empty).toEqual([]);
      }
    });
  }
});
