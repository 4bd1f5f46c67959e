// The main menu's groups (<details>): one open at a time; Escape or a click
// elsewhere closes it. Without this script the groups still open and close.
document.addEventListener("DOMContentLoaded", () => {
  const groups = Array.from(document.querySelectorAll(".main-nav details.nav-group"));
  const closeAll = (except) => {
    for (const group of groups) {
      if (group !== except) group.open = false;
    }
  };
  for (const group of groups) {
    group.addEventListener("toggle", () => {
      if (group.open) closeAll(group);
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const open = groups.find((group) => group.open);
    if (open) {
      open.open = false;
      open.querySelector("summary").focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest(".main-nav details.nav-group")) closeAll(null);
  });
});
