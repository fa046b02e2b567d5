import { describe, expect, it } from "vitest";
import type { KindSchema } from "../bindings";
import { buildForm, initialValue, normaliseList, splitProblems, valuesFor } from "./form";

const schema: KindSchema = {
  kind: "x509_file",
  label: "X.509 file",
  description: "",
  has_heartbeats: false,
  enrolment_token: null,
  fields: [
    { key: "path", label: "Path", help: "", field_type: "path", required: true, choices: [], placeholder: "", runs_program: false },
    { key: "renew_command", label: "Cmd", help: "", field_type: "list", required: false, choices: [], placeholder: "", runs_program: false },
    { key: "enabled", label: "Enabled", help: "", field_type: "bool", required: false, choices: [], placeholder: "true", default: "true", runs_program: false },
    { key: "verbose", label: "Verbose", help: "", field_type: "bool", required: false, choices: [], placeholder: "true", runs_program: false },
    { key: "renew_at", label: "At", help: "", field_type: "duration", required: false, choices: [], placeholder: "33%", runs_program: false },
  ],
};

describe("form helpers", () => {
  it("starts checkboxes from the placeholder, others empty", () => {
    expect(initialValue(schema.fields[2])).toBe("true");
    expect(initialValue(schema.fields[3])).toBe("false");
    expect(initialValue(schema.fields[0])).toBe("");
    expect(valuesFor(schema, { path: "/a", other: undefined })).toEqual({
      path: "/a",
      renew_command: "",
      enabled: "true",
      verbose: "false",
      renew_at: "",
    });
  });

  it("normalises lists to one trimmed item a line", () => {
    expect(normaliseList(" step \r\n\nca\n  renew\n\n")).toBe("step\nca\nrenew");
  });

  it("sends only the kind's fields, leaving empty optional ones out", () => {
    const form = buildForm(" web ", "x509_file", schema, {
      path: " /certs/web.pem ",
      renew_command: "step\n\nca ",
      enabled: "true",
      verbose: "false",
      renew_at: "",
      address: "left over from another kind",
    });
    expect(form).toEqual({
      name: "web",
      kind: "x509_file",
      values: { path: "/certs/web.pem", renew_command: "step\nca", enabled: "true", verbose: "false" },
    });
    expect(buildForm("x", "x509_file", schema, {}).values.path).toBe("");
  });

  it("accepts what a number input binds: a number, or null when emptied", () => {
    const values = { path: "/c.pem", renew_at: 1.5, renew_command: null } as unknown as Record<string, string>;
    const form = buildForm("x", "x509_file", schema, values);
    expect(form.values.renew_at).toBe("1.5");
    expect(form.values.renew_command).toBeUndefined();
  });

  it("puts problems under their field or at the top", () => {
    const split = splitProblems(
      [
        { field: "path", message: "No such file." },
        { field: "path", message: "Not readable." },
        { field: "name", message: "Taken." },
        { field: null, message: "Config changed on disk." },
        { field: "mystery", message: "Odd." },
      ],
      ["path", "enabled"],
    );
    expect(split.byField).toEqual({ path: ["No such file.", "Not readable."], name: ["Taken."] });
    expect(split.general).toEqual(["Config changed on disk.", "mystery: Odd."]);
  });
});
