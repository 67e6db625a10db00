// The frame around every page: navigation, preferences, sign-in and sign-out.
export default {
  en: {
    product: "batchyard",
    nav: { jobs: "Jobs", newJob: "New job", account: "Quota & ledger", notifications: "Notifications", users: "Users" },
    prefs: { language: "Language", timeZone: "Time zone", dark: "Dark mode", light: "Light mode" },
    signOut: "Sign out",
    signIn: {
      title: "Sign in to batchyard",
      username: "User name",
      password: "Password",
      submit: "Sign in",
      required: "Enter your user name and password",
    },
    live: {
      updated: "Updated {ago}",
      justNow: "just now",
      secondsAgo: "{n} s ago",
      minutesAgo: "{n} min ago",
      offline: "Live updates paused; refreshing every few seconds",
    },
    notFound: "This page does not exist.",
    skip: "Skip to content",
  },
  "zh-CN": {
    product: "batchyard",
    nav: { jobs: "任务", newJob: "新建任务", account: "配额与流水", notifications: "通知", users: "用户" },
    prefs: { language: "语言", timeZone: "时区", dark: "深色模式", light: "浅色模式" },
    signOut: "退出登录",
    signIn: {
      title: "登录 batchyard",
      username: "用户名",
      password: "密码",
      submit: "登录",
      required: "请输入用户名和密码",
    },
    live: {
      updated: "{ago}更新",
      justNow: "刚刚",
      secondsAgo: "{n} 秒前",
      minutesAgo: "{n} 分钟前",
      offline: "实时更新已中断，每隔几秒自动刷新",
    },
    notFound: "页面不存在。",
    skip: "跳到正文",
  },
};
